"""Run under torchrun by tests/engine/test_ddp.py: train the plug-in toy task and count DDP all-reduces.

    torchrun --nproc_per_node 2 tests/engine/ddp_accum_worker.py OUT.pt KEY=VALUE ...

Rank 0 writes ``{'weights': state_dict, 'allreduces': n, 'iters': i}`` to OUT.pt.
"""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "plugins")]

from toolkit.config import load_config  # noqa: E402
from toolkit.engine import Trainer, dist  # noqa: E402


def main() -> None:
    out, sets = Path(sys.argv[1]), sys.argv[2:]
    cfg = load_config(ROOT / "tests" / "plugins" / "toy_denoise.py", sets)
    trainer = Trainer(cfg, work_dir=out.parent / f"runs_{out.stem}")
    calls = {"n": 0}

    def counting_allreduce(state, bucket):  # DDP's own averaging, counted
        calls["n"] += 1
        tensor = bucket.buffer().div_(torch.distributed.get_world_size())
        work = torch.distributed.all_reduce(tensor, async_op=True)
        return work.get_future().then(lambda fut: fut.value()[0])

    trainer.train_model.register_comm_hook(None, counting_allreduce)
    trainer.train()
    if trainer.rank == 0:
        torch.save({"weights": trainer.model.state_dict(), "allreduces": calls["n"], "iters": trainer.iter}, out)
    dist.cleanup(finished=True)


if __name__ == "__main__":
    main()
