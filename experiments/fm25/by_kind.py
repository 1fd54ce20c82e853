"""The twenty-fifth attempt's diagnostics (decide nothing; experiments/tune_fm.md): step 1's
paired differences to release 6.1 with 95% CIs, and `gaps` split into bandits and chains,
for step 1's runs and for after.sh's (beta 0). Run from the repository's root."""

import numpy as np

from rlbench_icl.tuning import paired_interval, parse_runs, tuning_tasks

TEMPERATURES = {"step1/candidate-temperature24": (0.1, 0.2, 0.3, 0.5, 1.0),
                "after/posterior25": (0.1, 1.0)}


def load(path: str) -> dict:
    return parse_runs(open(path).read().splitlines()[2:], path)


def main() -> None:
    tasks = tuning_tasks(64, "gaps", 2800)
    kind = np.array(["bandit" if t.mdp.num_states == 1 else "chain" for t in tasks])
    for suite in ("gaps", "default"):
        rel = load(f"experiments/fm25/step1/release-temperature24-{suite}.csv")
        r = np.array([rel[(0, 2800 + m, 0)] for m in range(64)])
        for name, temperatures in TEMPERATURES.items():
            runs = load(f"experiments/fm25/{name}-{suite}.csv")
            for row, t in enumerate(temperatures):
                c = np.array([runs[(row, 2800 + m, 0)] for m in range(64)])
                mean, low, high = paired_interval((c - r)[:, None])
                split = "" if suite != "gaps" else "; " + ", ".join(
                    f"{k}: {c[kind == k].mean():.3f} (release {r[kind == k].mean():.3f})"
                    for k in ("bandit", "chain"))
                print(f"{name} {suite} T={t}: {c.mean():.4f}, vs release 6.1 {mean:+.4f} "
                      f"[{low:+.4f}, {high:+.4f}]{split}")


if __name__ == "__main__":
    main()
