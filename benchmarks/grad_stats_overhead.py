"""What ``[output] grad_stats = true`` costs a training epoch: the same epoch timed with and
without it, interleaved (so a change in the machine's load hits both alike).

The epoch is ``cnnjax.train.train_epoch`` itself, the one ``cnnjax train`` runs, on the
config's real data; the steps are compiled before timing. With grad_stats, each step also
returns the per-layer parameter-gradient norms (a few reductions over gradients it already
has) and the epoch ends with one stack and mean per layer.

    python benchmarks/grad_stats_overhead.py [CONFIG] [--repeats 5]

Prints the median ``train_seconds`` of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

ROOT = Path(__file__).parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=str(ROOT / "experiments" / "digits_cnn.toml"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from cnnjax import train
    from cnnjax.config import load_config
    from cnnjax.steps import compiled_steps

    runs = {}
    for flag in (False, True):
        config = load_config(args.config, [f"output.grad_stats={str(flag).lower()}"])
        exp = train.build_experiment(config)
        placement = train.placement_for(config)
        step, _ = compiled_steps(config, exp, placement)
        carry = placement.replicate((exp.params, exp.state, exp.opt_state))
        runs[flag] = (config, exp, placement, step, carry)
    times: dict[bool, list[float]] = {False: [], True: []}
    for rep in range(args.repeats + 1):  # the first round compiles and is not counted
        for flag, (config, exp, placement, step, carry) in runs.items():
            _, record = train.train_epoch(
                exp, config, carry, 1, train_step=step, placement=placement
            )
            assert ("grad_norms" in record) == flag
            if rep:
                times[flag].append(record["train_seconds"])
    off, on = statistics.median(times[False]), statistics.median(times[True])
    steps = runs[False][1].steps_per_epoch
    print(f"{Path(args.config).stem}: {steps} steps per epoch, {args.repeats} epochs each")
    print(f"grad_stats off  {off:.3f} s/epoch  {1e3 * off / steps:.2f} ms/step")
    print(f"grad_stats on   {on:.3f} s/epoch  {1e3 * on / steps:.2f} ms/step")
    print(f"overhead        {on / off:.3f}x  ({100 * (on / off - 1):+.1f}%)")


if __name__ == "__main__":
    main()
