"Data loaders on real files where present and on synthetic files in torchvision's exact on-disk layouts."
import gzip, pickle, struct
import numpy as np, pytest, torch
from msdsm.data import load_images, read_idx, DataNotFoundError, BatchSource
from conftest import SHARED_MNIST, FMNIST_DEBIAN, needs_fmnist, ROOT

def write_idx(path, arr, gz=True):
    arr = np.asarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 0x08, arr.ndim]) + struct.pack('>' + 'I' * arr.ndim, *arr.shape)
    data = head + arr.tobytes()
    (gzip.open if gz else open)(path, 'wb').write(data)

@needs_fmnist
def test_fashion_mnist_from_debian():
    x, y = load_images('fashion_mnist', 'test', root=FMNIST_DEBIAN, download=False)
    assert x.shape == (10000, 1, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert x[..., :2, :].sum() == 0 and x[..., 2:30, 2:30].float().mean() > 50

@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f'{SHARED_MNIST} absent (the MNIST test split ships only beside the project checkout)')
def test_mnist_test_split_from_shared():
    x, y = load_images('mnist', 'test', root=SHARED_MNIST, download=False)
    assert x.shape == (10000, 1, 32, 32) and y[:3].tolist() == [7, 2, 1]

def test_idx_layouts_and_env(tmp_path, monkeypatch):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    for layout in ('FashionMNIST/raw', 'fashion_mnist', ''):
        d = tmp_path / layout.replace('/', '_') / layout if layout else tmp_path / 'flat'
        d.mkdir(parents=True)
        write_idx(d / 't10k-images-idx3-ubyte.gz', imgs); write_idx(d / 't10k-labels-idx1-ubyte', np.arange(5), gz=False)
        root = d.parents[len(layout.split('/')) - 1] if layout else d
        x, y = load_images('fashion_mnist', 'test', root=root, download=False)
        assert x.shape == (5, 1, 32, 32) and torch.equal(x[:, 0, 2:30, 2:30], torch.from_numpy(imgs.astype(np.uint8)))
    monkeypatch.setenv('MSDSM_DATA', str(tmp_path / 'flat'))
    x, _ = load_images('fashion_mnist', 'test', download=False)
    assert len(x) == 5

def test_truncated_idx_is_an_error(tmp_path):
    write_idx(tmp_path / 'a.gz', np.zeros((4, 28, 28)))
    raw = gzip.open(tmp_path / 'a.gz').read()[:-10]
    gzip.open(tmp_path / 'b.gz', 'wb').write(raw)
    with pytest.raises(ValueError, match='truncated'): read_idx(tmp_path / 'b.gz')

def test_cifar10_layout(tmp_path):
    d = tmp_path / 'cifar-10-batches-py'; d.mkdir()
    for n in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        pickle.dump({'data': np.full((3, 3072), 7, np.uint8), 'labels': [1, 2, 3]}, open(d / n, 'wb'))
    x, y = load_images('cifar10', 'test', root=tmp_path, download=False)
    assert x.shape == (3, 3, 32, 32) and (x == 7).all() and y.tolist() == [1, 2, 3]
    # floats cast to uint8, or labels that do not match the images, are another file: refused, never cast
    for bad in ({'data': np.full((3, 3072), 7.5), 'labels': [1, 2, 3]}, {'data': np.zeros((3, 3072), np.uint8), 'labels': [1]},
                {'data': np.zeros((3, 3072), np.uint8), 'labels': [1, 2, 30]}, {'data': None, 'labels': [1]}):
        pickle.dump(bad, open(d / 'test_batch', 'wb'))
        with pytest.raises(ValueError, match='is not a CIFAR-10 batch'): load_images('cifar10', 'test', root=tmp_path, download=False)

def test_svhn_layout(tmp_path):
    from scipy.io import savemat
    X = np.zeros((32, 32, 3, 4), np.uint8); X[0, 0, 1, 2] = 200
    savemat(tmp_path / 'test_32x32.mat', {'X': X, 'y': np.array([[10], [1], [2], [3]])})
    x, y = load_images('svhn', 'test', root=tmp_path, download=False)
    assert x.shape == (4, 3, 32, 32) and x[2, 1, 0, 0] == 200 and y.tolist() == [0, 1, 2, 3]
    for bad in ({'y': np.ones((4, 1))}, {'X': X, 'y': np.ones((3, 1))}, {'X': X.astype(np.float32), 'y': np.ones((4, 1))},
                {'X': X, 'y': np.full((4, 1), 11)}, {'X': X[:, :, :1], 'y': np.ones((4, 1))}):
        savemat(tmp_path / 'test_32x32.mat', bad)
        with pytest.raises(ValueError, match='is not an SVHN file'): load_images('svhn', 'test', root=tmp_path, download=False)
    (tmp_path / 'test_32x32.mat').write_bytes(b'not a MATLAB file at all')
    with pytest.raises(ValueError, match='is not a readable MATLAB file'): load_images('svhn', 'test', root=tmp_path, download=False)

def test_celeba_layout_and_cache(tmp_path):
    from PIL import Image
    d = tmp_path / 'celeba'; (d / 'img_align_celeba').mkdir(parents=True)
    names = [f'{i:06d}.jpg' for i in range(1, 5)]
    for i, n in enumerate(names):
        Image.fromarray(np.full((218, 178, 3), 40 * i, np.uint8)).save(d / 'img_align_celeba' / n)
    (d / 'list_eval_partition.txt').write_text(''.join(f'{n} {s}\n' for n, s in zip(names, [0, 0, 1, 2])))
    x, y = load_images('celeba', 'train', root=tmp_path, download=False)
    assert x.shape == (2, 3, 32, 32) and y is None and abs(int(x[1].float().mean()) - 40) <= 2
    assert len(list(d.glob('msdsm-32x32-train-*.npy'))) == 1
    x2, _ = load_images('celeba', 'train', root=tmp_path, download=False)      # from the cache
    assert torch.equal(x, x2)
    # an edited partition is a new split: its images, not the old cache's
    (d / 'list_eval_partition.txt').write_text(''.join(f'{n} {s}\n' for n, s in zip(names, [0, 1, 1, 0])))
    x3, _ = load_images('celeba', 'train', root=tmp_path, download=False)
    assert x3.shape == (2, 3, 32, 32) and abs(int(x3[1].float().mean()) - 120) <= 2
    assert len(list(d.glob('msdsm-32x32-train-*.npy'))) == 2
    # replaced images are new data: read again, not the old cache's pixels
    Image.fromarray(np.full((218, 178, 3), 200, np.uint8)).save(d / 'img_align_celeba' / names[3])
    x4, _ = load_images('celeba', 'train', root=tmp_path, download=False)
    assert abs(int(x4[1].float().mean()) - 200) <= 2 and torch.equal(x4[0], x3[0])

def test_offline_error_names_places(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataNotFoundError) as e: load_images('svhn', 'train', root=tmp_path / 'nowhere', download=False)
    msg = str(e.value)
    for s in ('nowhere', 'no other place is searched when one is named', 'MSDSM_DATA', 'train_32x32.mat', '--data-dir'): assert s in msg
    with pytest.raises(DataNotFoundError) as e: load_images('svhn', 'train', download=False)   # no folder named
    assert './data' in str(e.value)

def test_batch_source_epochs_and_seeds():
    imgs = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    src = BatchSource(imgs, 10, seed=3)
    seen = torch.cat([next(src) for _ in range(10)]).mul(255).round().long().flatten()
    assert sorted(seen.tolist()) == list(range(100)) and src.epoch == 1
    nxt = next(src); assert src.epoch == 2
    other = BatchSource(imgs, 10, seed=4)
    assert not torch.equal(next(BatchSource(imgs, 10, seed=3)), next(other))
    with pytest.raises(ValueError, match='divisible'): BatchSource(imgs, 10, world_size=3)

@needs_fmnist
def test_mnist_and_fashion_mnist_loose_files_are_never_mixed_up(monkeypatch):
    "Both sets' IDX files have the same names: a folder of one set's loose files is never taken for the other."
    from msdsm.data import DEBIAN_FMNIST, data_fingerprint
    mnist, _ = load_images('mnist', 'test', root=ROOT / 'data' / 'mnist', download=False)
    fmnist, _ = load_images('fashion_mnist', 'test', root=DEBIAN_FMNIST, download=False)
    monkeypatch.setenv('MSDSM_DATA', str(DEBIAN_FMNIST))        # as the 'not found' message suggests
    x, _ = load_images('mnist', 'test', download=False)
    assert data_fingerprint(x) == data_fingerprint(mnist) != data_fingerprint(fmnist)
    with pytest.raises(ValueError, match="holds mnist's files, not fashion_mnist's"):
        load_images('fashion_mnist', 'test', root=ROOT / 'data' / 'mnist', download=False)

@needs_fmnist
def test_loose_files_of_the_other_set_are_known_by_content(tmp_path, monkeypatch):
    "A folder of Fashion-MNIST's published files under any name is not MNIST, searched or named."
    import shutil
    from msdsm.data import DEBIAN_FMNIST
    flat = tmp_path / 'flat'; flat.mkdir()
    for f in DEBIAN_FMNIST.glob('t10k-*'): shutil.copy(f, flat / f.name)
    with pytest.raises(ValueError, match="holds fashion_mnist's files, not mnist's"):
        load_images('mnist', 'test', root=flat, download=False)
    monkeypatch.setenv('MSDSM_DATA', str(flat))
    x, _ = load_images('mnist', 'test', download=False)                  # the search goes on to the real MNIST
    assert x.float().mean() < 40                                          # digits: mostly black (Fashion-MNIST ≈ 73)

@needs_fmnist
def test_the_other_sets_files_in_a_folder_named_for_this_one_are_refused(tmp_path):
    "Fashion-MNIST's files copied into <root>/mnist/ are still Fashion-MNIST: the content decides, not the name."
    import shutil
    from msdsm.data import DEBIAN_FMNIST
    (tmp_path / 'mnist').mkdir()
    for f in DEBIAN_FMNIST.glob('t10k-*'): shutil.copy(f, tmp_path / 'mnist' / f.name)
    with pytest.raises(ValueError, match="holds fashion_mnist's files, not mnist's"):
        load_images('mnist', 'test', root=tmp_path, download=False)
