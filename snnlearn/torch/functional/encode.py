"""``norse.torch.functional.encode``: the encoders snnlearn has, under Norse's names."""

from snnlearn.functional.encode import (  # noqa: F401
    constant_current_lif_encode,
    euclidean_distance,
    gaussian_rbf,
    lif_current_encoder,
    poisson_encode,
    poisson_encode_step,
    population_encode,
    signed_poisson_encode,
    signed_poisson_encode_step,
    spike_latency_encode,
    spike_latency_lif_encode,
)

__all__ = ["constant_current_lif_encode", "lif_current_encoder", "poisson_encode",
           "poisson_encode_step", "spike_latency_encode", "spike_latency_lif_encode",
           "population_encode", "signed_poisson_encode", "signed_poisson_encode_step",
           "gaussian_rbf", "euclidean_distance"]
