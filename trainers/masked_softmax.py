"""L2-regularised multinomial logistic regression in which each row learns only the classes
its corpus has: a CREMA-D clip (no calm, no surprised) is scored by a softmax over its six
classes, so it never teaches that calm or surprised is wrong.

The objective is scikit-learn's (`LogisticRegression(C=C)` with lbfgs: C times the summed
log-loss plus half the squared norm of the weights, the intercept unpenalised), so with every
class allowed on every row it finds scikit-learn's weights; L-BFGS from scipy, deterministic
for the same rows on the same machine.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize


def _objective(theta, x, y, allowed, C: float, weights):
    d, k = x.shape[1], allowed.shape[1]
    w, b = theta[: d * k].reshape(d, k), theta[d * k :]
    z = (x @ w.astype(np.float32)).astype(np.float64) + b
    z = np.where(allowed, z, -np.inf)
    z -= z.max(1, keepdims=True)
    log_total = np.log(np.exp(z).sum(1))
    rows = np.arange(len(y))
    loss = C * float((weights * (log_total - z[rows, y])).sum()) + 0.5 * float((w * w).sum())
    residual = np.exp(z - log_total[:, None])  # 0 where a class is not allowed
    residual[rows, y] -= 1.0
    residual *= weights[:, None]
    grad_w = C * (x.T @ residual.astype(np.float32)).astype(np.float64) + w
    return loss, np.concatenate([grad_w.ravel(), C * residual.sum(0)])


def fit(
    x: np.ndarray,
    y: np.ndarray,
    allowed: np.ndarray,
    C: float,
    max_iter: int = 3000,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(kernel [D, K], bias [K]) of the regression of rows `x` [N, D] on labels `y` [N], row i
    scored over the classes where `allowed[i]` ([N, K] bool) is true (its own label must be),
    its log-loss weighted by `weights[i]` (default 1)."""
    x, y, allowed = np.asarray(x, np.float32), np.asarray(y, np.int64), np.asarray(allowed, bool)
    if not allowed[np.arange(len(y)), y].all():
        raise ValueError("a row's label is not among the classes allowed for it")
    d, k = x.shape[1], allowed.shape[1]
    # scikit-learn's tolerance (1e-4 on the gradient of the mean loss) on the summed one's scale.
    theta = np.zeros(d * k + k) if start is None else np.concatenate([start[0].ravel(), start[1]]).astype(np.float64)
    weights = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    result = optimize.minimize(
        _objective,
        theta,
        args=(x, y, allowed, C, weights),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxls": 50, "gtol": 1e-4 * C * len(y), "ftol": 64 * np.finfo(float).eps},
    )
    return result.x[: d * k].reshape(d, k).astype(np.float32), result.x[d * k :].astype(np.float32)
