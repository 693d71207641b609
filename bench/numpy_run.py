#!/usr/bin/env python3
"""The same run Valence makes, in memory with NumPy: the research-speed baseline of `make bench`.

A researcher who only wants numbers could write this script instead of using Valence. It does the
same work as `make run OBJECTIVE=psr` on the defaults (docs/model.md): the add task (nd = 3, 2000 train
and 1000 test prompts), the noisy-student base policy from a 20,000-solution corpus, 60 steps of
B = 64 prompts x G = 8 rollouts, verify, the PSR advantage, the exact gradient of J, Adam (lr 0.03), and
the exact eval of every checkpoint (Pass@k for k = 1..256, entropy, greedy accuracy). It writes no file
and keeps no shard: that is the point of the comparison. Its random numbers are NumPy's, not Valence's
counter-based streams, so its numbers agree with Valence's in distribution, not bit for bit.

    python3 bench/numpy_run.py [--steps 60] [--objective psr|nsr|w-reinforce] [--window 0|1]
"""
import argparse
import time

import numpy as np

KS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def digits(x, n):
    """Digits of the integers in x, most significant first, zero-padded to n: shape x.shape + (n,)."""
    x = np.asarray(x)
    return (x[..., None] // 10 ** np.arange(n - 1, -1, -1)) % 10


def contexts(a, b, nd, window):
    """Row index of every output position of every prompt (docs/model.md 3): shape (prompts, L)."""
    L = nd + 1
    da, db = digits(a, L), digits(b, L)
    s = da + db
    h = np.where(s < 9, 0, np.where(s == 9, 1, 2))
    h = np.concatenate([h, np.zeros((len(s), window), dtype=h.dtype)], axis=1)
    key = (np.arange(L) * 10 + da) * 10 + db
    for i in range(1, window + 1):
        key = key * 3 + h[:, i:i + L]
    return key


def base_counts(rng, nd, window, corpus, forget, noise, alpha):
    """Add-alpha ML logits of a noisy student's written digits (docs/model.md 4)."""
    L = nd + 1
    a, b = rng.integers(0, 10 ** nd, size=(2, corpus))
    da, db = digits(a, L), digits(b, L)
    rows = contexts(a, b, nd, window)
    written = np.zeros((corpus, L), dtype=int)
    carry = np.zeros(corpus, dtype=int)
    for j in reversed(range(L)):                        # least significant first
        used = np.where(rng.random(corpus) < forget, 0, carry)
        w = (da[:, j] + db[:, j] + used) % 10
        written[:, j] = np.where(rng.random(corpus) < noise, rng.integers(0, 10, corpus), w)
        carry = (da[:, j] + db[:, j] + carry >= 10).astype(int)
    counts = np.zeros((L * 100 * 3 ** window, 10))
    np.add.at(counts, (rows.ravel(), written.ravel()), 1)
    return np.log((counts + alpha) / (counts.sum(1, keepdims=True) + 10 * alpha))


def evaluate(z, rows, answers):
    """Exact Pass@k, entropy and greedy accuracy of softmax(z) over prompts (docs/model.md 6)."""
    logp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
    p = np.exp(logp)
    lp = logp[rows, answers].sum(1)
    px = np.exp(lp)
    passk = [float(np.mean(1 - np.exp(k * np.log1p(-np.minimum(px, 1 - 1e-16))))) for k in KS]
    entropy = float(np.mean(-(p[rows] * logp[rows]).sum(2)))
    greedy = float(np.mean(np.all(np.argmax(z[rows], axis=2) == answers, axis=1)))
    return passk, entropy, greedy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--objective", default="psr", choices=["psr", "nsr", "w-reinforce"])
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    nd, B, G, lr, lam = 3, 64, 8, 0.03, 0.1
    L = nd + 1
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    pairs = rng.choice(10 ** (2 * nd), size=3000, replace=False)
    train, test = pairs[:2000], pairs[2000:]

    def table(ids):
        a, b = ids // 10 ** nd, ids % 10 ** nd
        return contexts(a, b, nd, args.window), digits(a + b, L)

    train_rows, train_answers = table(train)
    test_rows, test_answers = table(test)
    z = base_counts(rng, nd, args.window, 20000, 0.5, 0.1, 0.5)
    m, v = np.zeros_like(z), np.zeros_like(z)
    metrics = [evaluate(z, test_rows, test_answers)]
    for t in range(1, args.steps + 1):
        ids = np.sort(rng.choice(len(train), size=B, replace=False))
        rows = np.repeat(train_rows[ids], G, axis=0)              # (B G, L)
        answers = np.repeat(train_answers[ids], G, axis=0)
        logp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        cdf = np.cumsum(np.exp(logp), axis=1)
        u = rng.random(rows.shape)
        tokens = np.minimum((u[..., None] >= cdf[rows]).sum(2), 9)  # sample every position
        reward = np.all(tokens == answers, axis=1).astype(float)   # verify
        if args.objective == "psr":
            adv = reward
        elif args.objective == "nsr":
            adv = reward - 1
        else:
            adv = np.where(reward == 1, lam, -1.0)
        p = np.exp(logp)
        g = np.zeros_like(z)
        for j in range(L):                                        # dJ/dz = A (onehot - pi) / (G L)
            onehot = np.eye(10)[tokens[:, j]]
            np.add.at(g, rows[:, j], adv[:, None] * (onehot - p[rows[:, j]]) / (G * L))
        m = 0.9 * m + 0.1 * g                                     # Adam, ascent
        v = 0.999 * v + 0.001 * g * g
        z = z + lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        metrics.append(evaluate(z, test_rows, test_answers))
    seconds = time.perf_counter() - start
    passk, entropy, greedy = metrics[-1]
    print(f"numpy_run: {args.objective} w{args.window} {args.steps} steps in {seconds:.3f} s: "
          f"pass@1 {passk[0]:.4f} pass@256 {passk[-1]:.4f} entropy {entropy:.4f} greedy {greedy:.4f}")


if __name__ == "__main__":
    main()
