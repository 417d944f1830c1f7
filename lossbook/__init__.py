"""lossbook: reference implementations of the loss functions taught in the book.

The functions are named and behave like their ``torch.nn.functional``
namesakes (same shapes, meaning and defaults; options are keyword-only),
computed in numpy. float64 input gives float64 output and float32 gives
float32 (computed in float64 and rounded once). Each loss ``f`` has a
gradient ``f_grad`` with respect to its ``input``.

Accuracy statements in the docstrings ("within 2 ulp") bound the relative
error of a float64 result against the exact value for the given float64
inputs: 2 ulp means at most 2 * eps = 2**-51 (about 4.4e-16), for results in
the normal range. tests/test_accuracy.py checks them against mpmath.
"""

from .activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softplus
from .classification import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    cross_entropy,
    cross_entropy_grad,
    kl_div,
    kl_div_grad,
    nll_loss,
    nll_loss_grad,
)
from .embedding import (
    cosine_embedding_loss,
    cosine_embedding_loss_grad,
    margin_ranking_loss,
    margin_ranking_loss_grad,
    pairwise_distance,
    pairwise_distance_grad,
    sdml_loss,
    sdml_loss_grad,
    squared_l2_distance,
    squared_l2_distance_grad,
    triplet_margin_loss,
    triplet_margin_loss_grad,
    triplet_margin_with_distance_loss,
    triplet_margin_with_distance_loss_grad,
)
from .margin import (
    hinge_loss,
    hinge_loss_grad,
    soft_margin_loss,
    soft_margin_loss_grad,
    squared_hinge_loss,
    squared_hinge_loss_grad,
)
from .multilabel import (
    multilabel_margin_loss,
    multilabel_margin_loss_grad,
    multilabel_soft_margin_loss,
    multilabel_soft_margin_loss_grad,
)
from .regression import (
    gaussian_nll_loss,
    gaussian_nll_loss_grad,
    huber_loss,
    huber_loss_grad,
    l1_loss,
    l1_loss_grad,
    mse_loss,
    mse_loss_grad,
    poisson_nll_loss,
    poisson_nll_loss_grad,
    quantile_loss,
    quantile_loss_grad,
    smooth_l1_loss,
    smooth_l1_loss_grad,
)
from .versions import versions
from . import catalog, fitting, frameworks, multitask, plotting, porting, training  # noqa: E402  (they read the functions above)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cosine_embedding_loss",
    "cosine_embedding_loss_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "gaussian_nll_loss",
    "gaussian_nll_loss_grad",
    "hinge_loss",
    "hinge_loss_grad",
    "huber_loss",
    "huber_loss_grad",
    "kl_div",
    "kl_div_grad",
    "l1_loss",
    "l1_loss_grad",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "margin_ranking_loss",
    "margin_ranking_loss_grad",
    "mse_loss",
    "mse_loss_grad",
    "multilabel_margin_loss",
    "multilabel_margin_loss_grad",
    "multilabel_soft_margin_loss",
    "multilabel_soft_margin_loss_grad",
    "nll_loss",
    "nll_loss_grad",
    "pairwise_distance",
    "pairwise_distance_grad",
    "poisson_nll_loss",
    "poisson_nll_loss_grad",
    "quantile_loss",
    "quantile_loss_grad",
    "sdml_loss",
    "sdml_loss_grad",
    "sigmoid",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
    "soft_margin_loss",
    "soft_margin_loss_grad",
    "softmax",
    "softplus",
    "squared_hinge_loss",
    "squared_hinge_loss_grad",
    "squared_l2_distance",
    "squared_l2_distance_grad",
    "triplet_margin_loss",
    "triplet_margin_loss_grad",
    "triplet_margin_with_distance_loss",
    "triplet_margin_with_distance_loss_grad",
    "versions",
]
__version__ = "0.1.0"
