"""The study's networks that no maintained library ships: BN-AlexNet, BN-NIN, ENet.

Each is written here from its original description, with the source next to the
code (and in ``ModelSpec.architecture_source`` so that every record says it):

- BN-AlexNet: the single-tower AlexNet of Krizhevsky, "One weird trick for
  parallelizing convolutional neural networks" (arXiv 1404.5997; cuda-convnet2
  layers-imagenet-1gpu.cfg), with BatchNorm after every convolution and hidden
  fully connected layer, as trained in Torch7 by soumith/imagenet-multiGPU.torch
  ``models/alexnetowtbn.lua`` (the model S. Zagoruyko evaluated at 56.60% top-1).
- BN-NIN: Network in Network (Lin, Chen, Yan, arXiv 1312.4400), ImageNet variant
  with BatchNorm after every convolution, as in soumith/imagenet-multiGPU.torch
  ``models/ninbn.lua``: four mlpconv blocks (a k x k convolution then two 1x1
  convolutions), global average pooling and one linear classifier.
- ENet: Paszke, Chaurasia, Kim, Culurciello, "ENet: A Deep Neural Network
  Architecture for Real-Time Semantic Segmentation" (arXiv 1606.02147), encoder
  only (initial block + bottleneck stages 1-3 of its Table 1), made into an
  ImageNet classifier as E. Culurciello describes in "Training ENet on ImageNet"
  (culurciello.github.io, 2016-06-20, "ENet V2"): stages 2 and 3 each end with a
  downsampling bottleneck (28 -> 14 -> 7 at 224 px), then global average pooling.
  The blog lists the feature extractor only; the head here is one linear layer
  128 -> 1000, the same head the training script it names adds to every model.

Models are built with random weights: nothing is downloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from generator.model_spec import ModelSpec
from generator.schema import PublishedAccuracy

NUM_CLASSES = 1000
# The Torch7 models above use eps=1e-3 in every BatchNorm; kept for fidelity
# (it changes no count and no shape).
_BN_EPS = 1e-3


# --------------------------------------------------------------------------- BN-AlexNet


class BNAlexNet(nn.Module):
    """AlexNet "one weird trick" (64-192-384-256-256 filters, 4096-4096 FC) with BatchNorm."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()

        def conv(cin: int, cout: int, kernel: int, stride: int, pad: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, kernel, stride, pad), nn.BatchNorm2d(cout, eps=_BN_EPS), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(3, 64, 11, 4, 2),  # 224 -> 55
            nn.MaxPool2d(3, 2),  # 55 -> 27
            *conv(64, 192, 5, 1, 2),
            nn.MaxPool2d(3, 2),  # 27 -> 13
            *conv(192, 384, 3, 1, 1),
            *conv(384, 256, 3, 1, 1),
            *conv(256, 256, 3, 1, 1),
            nn.MaxPool2d(3, 2),  # 13 -> 6
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(256 * 6 * 6, 4096),
            nn.BatchNorm1d(4096, eps=_BN_EPS),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.BatchNorm1d(4096, eps=_BN_EPS),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def bn_alexnet() -> nn.Module:
    return BNAlexNet()


# --------------------------------------------------------------------------- BN-NIN


def _mlpconv(cin: int, cout: int, kernel: int, stride: int, pad: int) -> nn.Sequential:
    """One NIN block: k x k convolution, then two 1x1 convolutions (the "micro MLP"), each BN + ReLU."""
    layers: list[nn.Module] = []
    for index in range(3):
        if index == 0:
            layers.append(nn.Conv2d(cin, cout, kernel, stride, pad))
        else:
            layers.append(nn.Conv2d(cout, cout, 1))
        layers += [nn.BatchNorm2d(cout, eps=_BN_EPS), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class BNNIN(nn.Module):
    """Network in Network for ImageNet with BatchNorm (imagenet-multiGPU.torch 'ninbn')."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _mlpconv(3, 96, 11, 4, 5),  # 224 -> 56
            nn.MaxPool2d(3, 2, 1),  # -> 28
            _mlpconv(96, 256, 5, 1, 2),
            nn.MaxPool2d(3, 2, 1),  # -> 14
            _mlpconv(256, 384, 3, 1, 1),
            nn.MaxPool2d(3, 2, 1),  # -> 7
            _mlpconv(384, 1024, 3, 1, 1),
            # The Torch model pools a fixed 7x7; adaptive pooling is the same at
            # 224 px and still works at other resolutions.
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def bn_nin() -> nn.Module:
    return BNNIN()


# --------------------------------------------------------------------------- ENet


class _InitialBlock(nn.Module):
    """ENet Fig. 2a: a 3x3 stride-2 convolution (13 maps) beside a 2x2 max pool (3 maps), concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 13, 3, 2, 1)
        self.pool = nn.MaxPool2d(2, 2)
        self.bn = nn.BatchNorm2d(16, eps=_BN_EPS)
        self.act = nn.PReLU(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(torch.cat([self.conv(x), self.pool(x)], dim=1)))


class _Bottleneck(nn.Module):
    """ENet Fig. 2b: 1x1 projection (2x2 stride 2 when downsampling), a middle convolution
    (regular 3x3, dilated 3x3 or asymmetric 5x1 + 1x5), 1x1 expansion, spatial dropout; the
    shortcut max-pools when downsampling and is zero-padded to the output channels.
    The internal width is a quarter of the output (the paper's projection ratio 4).
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        *,
        downsample: bool = False,
        dilation: int = 1,
        asymmetric: int = 0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        internal = cout // 4
        stride = 2 if downsample else 1
        middle: list[nn.Module]
        if asymmetric:
            pad = (asymmetric - 1) // 2
            middle = [
                nn.Conv2d(internal, internal, (asymmetric, 1), padding=(pad, 0), bias=False),
                nn.Conv2d(internal, internal, (1, asymmetric), padding=(0, pad)),
            ]
        else:
            middle = [nn.Conv2d(internal, internal, 3, padding=dilation, dilation=dilation)]
        self.main = nn.Sequential(
            nn.Conv2d(cin, internal, stride, stride, bias=False),
            nn.BatchNorm2d(internal, eps=_BN_EPS),
            nn.PReLU(internal),
            *middle,
            nn.BatchNorm2d(internal, eps=_BN_EPS),
            nn.PReLU(internal),
            nn.Conv2d(internal, cout, 1, bias=False),
            nn.BatchNorm2d(cout, eps=_BN_EPS),
            nn.Dropout2d(dropout),
        )
        self.pool = nn.MaxPool2d(2, 2) if downsample else None
        self.extra_channels = cout - cin
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.pool(x) if self.pool is not None else x
        if self.extra_channels:
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return self.act(self.main(x) + shortcut)


def _dilated_stage() -> list[nn.Module]:
    """One of ENet's stages 2 and 3 (paper Table 1), shared by the classifier and the
    segmentation network, so the check against the paper's 0.37M covers the classifier's blocks."""
    return [
        _Bottleneck(128, 128),
        _Bottleneck(128, 128, dilation=2),
        _Bottleneck(128, 128, asymmetric=5),
        _Bottleneck(128, 128, dilation=4),
        _Bottleneck(128, 128),
        _Bottleneck(128, 128, dilation=8),
        _Bottleneck(128, 128, asymmetric=5),
        _Bottleneck(128, 128, dilation=16),
    ]


class ENet(nn.Module):
    """ENet encoder as an ImageNet classifier (Culurciello's "ENet V2")."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        # Stage 1 uses dropout 0.01, later stages 0.1 (ENet paper Sec. 4).
        blocks: list[nn.Module] = [_InitialBlock(), _Bottleneck(16, 64, downsample=True, dropout=0.01)]
        blocks += [_Bottleneck(64, 64, dropout=0.01) for _ in range(4)]
        blocks.append(_Bottleneck(64, 128, downsample=True))
        for _ in range(2):
            blocks += _dilated_stage()
            blocks.append(_Bottleneck(128, 128, downsample=True))  # the ImageNet change: 28 -> 14 -> 7
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def enet() -> nn.Module:
    return ENet()


def _decoder_bottleneck(cin: int, cout: int, upsample: bool) -> list[nn.Module]:
    """Layers of one ENet decoder bottleneck (paper Sec. 3: ReLU, no PReLU; upsampling with a
    3x3 transposed convolution and a 1x1 convolution on the shortcut before max-unpooling)."""
    internal = cout // 4
    layers: list[nn.Module] = [nn.Conv2d(cin, internal, 1, bias=False), nn.BatchNorm2d(internal, eps=_BN_EPS)]
    if upsample:
        layers.append(nn.ConvTranspose2d(internal, internal, 3, 2, 1, output_padding=1))
    else:
        layers.append(nn.Conv2d(internal, internal, 3, padding=1))
    layers += [
        nn.BatchNorm2d(internal, eps=_BN_EPS),
        nn.Conv2d(internal, cout, 1, bias=False),
        nn.BatchNorm2d(cout, eps=_BN_EPS),
    ]
    if upsample or cin != cout:
        layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout, eps=_BN_EPS)]
    return layers


def enet_segmentation_layers(num_classes: int = 12) -> nn.ModuleList:
    """The layers of the published segmentation ENet (paper Table 1), for counting parameters only.

    No parameter count is published for the ImageNet classifier, but the ENet paper gives
    0.37M for the segmentation network (Table 3). Counting this network, built from the
    same blocks as :class:`ENet`, checks the blocks against a published figure. The
    max-unpooling wiring is left out: this is not a runnable network. 12 classes: CamVid's
    11 plus 'unlabelled', as the authors' training code uses.
    """
    encoder: list[nn.Module] = [_InitialBlock(), _Bottleneck(16, 64, downsample=True)]
    encoder += [_Bottleneck(64, 64) for _ in range(4)]
    encoder.append(_Bottleneck(64, 128, downsample=True))
    for _ in range(2):
        encoder += _dilated_stage()
    decoder = (
        _decoder_bottleneck(128, 64, upsample=True)
        + _decoder_bottleneck(64, 64, upsample=False)
        + _decoder_bottleneck(64, 64, upsample=False)
        + _decoder_bottleneck(64, 16, upsample=True)
        + _decoder_bottleneck(16, 16, upsample=False)
        + [nn.ConvTranspose2d(16, num_classes, 2, 2)]
    )
    return nn.ModuleList(encoder + decoder)


# --------------------------------------------------------------------------- registry entries

BN_ALEXNET_SOURCE = (
    "AlexNet single tower: Krizhevsky, 'One weird trick for parallelizing convolutional neural networks', "
    "arXiv 1404.5997; with BatchNorm as in soumith/imagenet-multiGPU.torch models/alexnetowtbn.lua"
)
BN_NIN_SOURCE = (
    "Network in Network: Lin, Chen, Yan, arXiv 1312.4400; ImageNet variant with BatchNorm as in "
    "soumith/imagenet-multiGPU.torch models/ninbn.lua"
)
ENET_SOURCE = (
    "ENet encoder: Paszke, Chaurasia, Kim, Culurciello, arXiv 1606.02147 (Table 1, stages initial-3); "
    "ImageNet classifier as in Culurciello, 'Training ENet on ImageNet' (culurciello.github.io, "
    "2016-06-20, ENet V2) with a 128 -> 1000 linear head"
)

# Published accuracies (top-1 %, single centre crop); None where no public number exists.
BN_ALEXNET_ACCURACY = PublishedAccuracy(
    top1_percent=56.60,
    top5_percent=None,
    source="szagoruyko/imagenet-validation.torch README: bn-alexnet, top-1 central crop 56.60 "
    "(Torch model trained with imagenet-multiGPU.torch, evaluated at 227 px crop)",
)
BN_NIN_ACCURACY = PublishedAccuracy(
    top1_percent=62.6,
    top5_percent=None,
    source="soumith/imagenet-multiGPU.torch models/ninbn.lua header: 'Achieves 62.6% top1 on validation "
    "set at 35 epochs' (224 px centre crop of 256 px images; trained model by S. Zagoruyko)",
)
ENET_ACCURACY = PublishedAccuracy(
    top1_percent=None,
    top5_percent=None,
    source="none: no citable public ImageNet accuracy found for the ENet classifier",
)

# Exact parameter counts of the layer lists above, summed by hand from the
# source files (see benchmarks/bench_study_params.py), so tests can catch an
# architecture that drifted from its description.
EXPECTED_NUM_PARAMS: dict[str, int] = {
    # conv 23,296 + 307,392 + 663,936 + 884,992 + 590,080; fc 37,752,832 + 16,781,312
    # + 4,097,000; BatchNorm affine 2 x (64+192+384+256+256+4096+4096) = 18,688
    "bn_alexnet": 61_119_528,
    # blocks 53,568 + 746,240 + 1,180,800 + 5,639,168; BatchNorm 10,560; fc 1,025,000
    "bn_nin": 8_655_336,
    # initial block 412; stage 1: 5 bottlenecks x 4,656; 64 -> 128 downsampling 22,112;
    # stages 2-3 with their two extra downsampling bottlenecks 352,960; fc 129,000
    "enet": 527_764,
}

# Published parameter counts to compare with, where one exists: (count, source).
PUBLISHED_NUM_PARAMS: dict[str, tuple[int, str]] = {
    # No count is published for BN-AlexNet itself; BatchNorm adds 18,688 parameters
    # (0.03%) to the same layers, so the plain AlexNet OWT figure is the comparison.
    "bn_alexnet": (
        61_100_840,
        "torchvision AlexNet_Weights.IMAGENET1K_V1 meta num_params (the same single-tower "
        "AlexNet, arXiv 1404.5997, without BatchNorm)",
    ),
    "enet_segmentation": (370_000, "ENet paper (arXiv 1606.02147) Table 3: 0.37M parameters"),
}


def specs() -> list[ModelSpec]:
    """Registry entries for the hand-written study networks (names 'bn_alexnet', 'bn_nin', 'enet')."""
    common = {"source": "generator", "input_size_px": 224, "weights": None}
    return [
        ModelSpec(
            name="bn_alexnet",
            family="alexnet",
            builder="generator.paper_models.bn_alexnet",
            build=bn_alexnet,
            architecture_source=BN_ALEXNET_SOURCE,
            study_name="BN-AlexNet",
            published_accuracy=BN_ALEXNET_ACCURACY,
            **common,  # type: ignore[arg-type]
        ),
        ModelSpec(
            name="bn_nin",
            family="nin",
            builder="generator.paper_models.bn_nin",
            build=bn_nin,
            architecture_source=BN_NIN_SOURCE,
            study_name="BN-NIN",
            published_accuracy=BN_NIN_ACCURACY,
            **common,  # type: ignore[arg-type]
        ),
        ModelSpec(
            name="enet",
            family="enet",
            builder="generator.paper_models.enet",
            build=enet,
            architecture_source=ENET_SOURCE,
            study_name="ENet",
            published_accuracy=ENET_ACCURACY,
            **common,  # type: ignore[arg-type]
        ),
    ]
