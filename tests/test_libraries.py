"""msdsm's own statistics equal what well-kept libraries compute: AUROC and average precision (scikit-learn), the
Gaussian mixture's EM fit and density (scikit-learn), Wilson intervals (statsmodels), percentile-bootstrap intervals
(scipy), SSIM (scikit-image). msdsm keeps its own versions (torch on the features' device, numpy without extra
dependencies); these tests are why they can be trusted."""
import numpy as np
import torch
from msdsm.ood import GaussianMixture, auroc, average_precision
from msdsm.metrics import bootstrap_interval, wilson_interval
from msdsm.restore import ssim


def test_auroc_and_average_precision_equal_scikit_learn():
    from sklearn.metrics import average_precision_score, roc_auc_score
    g = np.random.default_rng(0)
    for trial in range(20):
        n_in, n_out = g.integers(5, 300, 2)
        si, so = g.normal(0, 1, n_in), g.normal(g.uniform(-1, 2), 1, n_out)
        if trial % 2: si, so = si.round(1), so.round(1)                # many ties
        y, s = np.r_[np.zeros(n_in), np.ones(n_out)], np.r_[si, so]
        assert abs(auroc(si, so) - roc_auc_score(y, s)) < 1e-12
        assert abs(average_precision(si, so) - average_precision_score(y, s)) < 1e-12


def test_mixture_density_and_em_fit_equal_scikit_learn():
    from sklearn.mixture import GaussianMixture as SkMixture
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0., 0, 0, 0], [4, 4, 0, 0], [0, 5, 5, -3]])
    X = torch.cat([c + torch.randn(300, 4, generator=g, dtype=torch.float64) * (0.5 + i) for i, c in enumerate(centres)])
    ours = GaussianMixture(3, seed=0).fit(X)
    Z = ((X - ours.mean) / ours.std).numpy()
    # the density of the fitted mixture, through scikit-learn's formula with our parameters
    sk = SkMixture(3, covariance_type='full')
    sk.weights_, sk.means_, sk.covariances_ = ours.w.numpy(), ours.mu.numpy(), ours.cov.numpy()
    sk.precisions_cholesky_ = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in sk.covariances_])
    np.testing.assert_allclose(ours.log_density(X).numpy(), sk.score_samples(Z),
                               rtol=1e-9, atol=1e-9)
    # the fit itself: scikit-learn's EM from the same start (our initial means: a seeded draw of points), the same ridge
    # and the same number of iterations gives the same mixture
    import warnings
    init = Z[torch.randperm(len(Z), generator=torch.Generator().manual_seed(0))[:3].numpy()]
    few = GaussianMixture(3, iters=8, seed=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                                  # "did not converge": 8 iterations on purpose
        ref = SkMixture(3, covariance_type='full', reg_covar=1e-4, tol=0, max_iter=8, means_init=init,
                        weights_init=np.full(3, 1 / 3), precisions_init=np.stack([np.eye(4)] * 3)).fit(Z)
    np.testing.assert_allclose(few.mu.numpy(), ref.means_, atol=1e-9)
    np.testing.assert_allclose(few.w.numpy(), ref.weights_, atol=1e-9)
    np.testing.assert_allclose(few.cov.numpy(), ref.covariances_, atol=1e-9)


def test_wilson_interval_equals_statsmodels():
    from statsmodels.stats.proportion import proportion_confint
    for k, n in ((0, 10), (3, 10), (10, 10), (136, 1000), (1, 2000), (697, 1000)):
        lo, hi = proportion_confint(k, n, alpha=0.05, method='wilson')
        np.testing.assert_allclose(wilson_interval(k, n), [lo, hi], rtol=1e-6, atol=1e-9)


def test_bootstrap_interval_equals_scipy_within_its_monte_carlo_error():
    from scipy.stats import bootstrap
    v = np.random.default_rng(1).exponential(1.0, 200)
    ours = bootstrap_interval(v, n_boot=20_000, seed=0)
    r = bootstrap((v,), np.mean, n_resamples=20_000, method='percentile', random_state=2).confidence_interval
    width = r.high - r.low
    assert abs(ours[0] - r.low) < 0.05 * width and abs(ours[1] - r.high) < 0.05 * width, (ours, r)


def test_ssim_equals_scikit_image():
    "Gray and colour images, clean and noisy: the standard Gaussian-window SSIM of Wang et al. (2004)."
    from skimage.metrics import structural_similarity
    g = torch.Generator().manual_seed(0)
    for c, noise in ((1, 0.05), (1, 0.3), (3, 0.1)):
        x = torch.rand(3, c, 32, 32, generator=g, dtype=torch.float64)
        r = (x + noise * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
        ours = ssim(x, r)
        for i in range(3):
            theirs = structural_similarity(x[i].numpy(), r[i].numpy(), gaussian_weights=True, sigma=1.5,
                                           use_sample_covariance=False, data_range=1.0, channel_axis=0)
            assert abs(ours[i].item() - theirs) < 1e-6, (c, noise, i, ours[i].item(), theirs)
