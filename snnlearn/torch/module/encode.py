"""``norse.torch.module.encode``: the encoder layers snnlearn has."""

from snnlearn.module.encode import (  # noqa: F401
    ConstantCurrentLIFEncoder,
    PoissonEncoder,
    PoissonEncoderStep,
    PopulationEncoder,
    SignedPoissonEncoder,
    SignedPoissonEncoderStep,
    SpikeLatencyEncoder,
    SpikeLatencyLIFEncoder,
)

__all__ = ["ConstantCurrentLIFEncoder", "PoissonEncoder", "PoissonEncoderStep",
           "SpikeLatencyEncoder", "SpikeLatencyLIFEncoder", "PopulationEncoder",
           "SignedPoissonEncoder", "SignedPoissonEncoderStep"]
