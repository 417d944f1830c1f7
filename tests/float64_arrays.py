"""float64 copies of numpy arrays in torch and MXNet, as the chapter tests build them."""

import numpy as np
import torch

from lossbook import frameworks

nd = frameworks.require("mxnet").nd


def t64(values):
    """A float64 torch tensor."""
    return torch.tensor(np.asarray(values), dtype=torch.float64)


def nd64(values):
    """A float64 NDArray holding a copy of ``values``."""
    return nd.from_numpy(np.ascontiguousarray(values, dtype=np.float64), zero_copy=False)
