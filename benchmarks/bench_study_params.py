"""Parameter counts of the study networks written here (and Inception-v4 from timm) against
published figures: ``python benchmarks/bench_study_params.py``.

Prints ours, the published value, the relative difference and the source, and exits 1
if a network with a published figure is off by 2% or more. Builds with random weights
on the CPU; nothing is downloaded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from torch import nn

from generator import paper_models

TOLERANCE = 0.02


@dataclass(frozen=True)
class Row:
    network: str
    ours: int
    published: int | None
    source: str

    @property
    def difference(self) -> float | None:
        return None if self.published is None else (self.ours - self.published) / self.published


def _count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def rows() -> list[Row]:
    published = paper_models.PUBLISHED_NUM_PARAMS
    out = [
        Row("BN-AlexNet (bn_alexnet)", _count(paper_models.bn_alexnet()), *published["bn_alexnet"]),
        Row("BN-NIN (bn_nin)", _count(paper_models.bn_nin()), None,
            "none found: imagenet-multiGPU.torch ninbn.lua states no count, and the NIN Caffe model "
            "(no BatchNorm, no linear head) is a different network"),
        Row("ENet ImageNet (enet)", _count(paper_models.enet()), None,
            "none published for the ImageNet classifier; its blocks are checked on the next line"),
        Row("ENet segmentation, same blocks", _count(paper_models.enet_segmentation_layers()),
            *published["enet_segmentation"]),
    ]
    try:
        from generator import timm_source

        spec = timm_source.timm_spec("inception_v4")
        out.append(Row("Inception-v4 (timm:inception_v4)", _count(spec.build()), spec.published_num_params,
                       "timm results-imagenet.csv param_count 42.68 M (two decimals)"))
    except Exception as error:  # timm is optional; say why the row is missing
        print(f"(Inception-v4 left out: {error})", file=sys.stderr)
    return out


def main() -> int:
    table = rows()
    width = max(len(row.network) for row in table)
    print(f"{'network':<{width}}  {'ours':>12}  {'published':>12}  {'diff':>7}  source")
    failed = False
    for row in table:
        published = f"{row.published:,}" if row.published is not None else "-"
        difference = row.difference
        diff = f"{difference:+.2%}" if difference is not None else "-"
        if difference is not None and abs(difference) >= TOLERANCE:
            failed = True
            diff += " !"
        print(f"{row.network:<{width}}  {row.ours:>12,}  {published:>12}  {diff:>7}  {row.source}")
    print(f"tolerance {TOLERANCE:.0%} where a published figure exists")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
