"""bpwidgets: where the Boson peak of amorphous solids comes from, interactively.

The compute core (no widgets): :func:`build_network` makes a frozen spring
network, :func:`reduced_dos` its Debye-reduced vibrational density of states
over random seeds, :func:`debye_level` its own Debye level, and
:func:`local_dos` / :func:`toy_network` the paper's nine-node toy model. The
dashboard lives in :mod:`bpwidgets.app`.
"""

from .network import CONNECTIONS, SPRINGS, Network, build_network, build_networks
from .spectrum import (
    CRYSTAL_DEBYE_LEVEL,
    EXACT_MAX_NODES,
    LocalSpectrum,
    NodeModes,
    ReducedDOS,
    crystal_reduced_dos,
    debye_level,
    exact_frequencies,
    local_spectrum,
    mode_weights,
    node_modes,
    reduced_dos,
    reduced_dos_of,
    spectrum_bound,
    stiffness_tensor,
)
from .toy import TOY_ADDED, TOY_REMOVED, local_dos, poles, toy_network

__all__ = [
    "CONNECTIONS",
    "CRYSTAL_DEBYE_LEVEL",
    "EXACT_MAX_NODES",
    "LocalSpectrum",
    "NodeModes",
    "SPRINGS",
    "TOY_ADDED",
    "TOY_REMOVED",
    "Network",
    "ReducedDOS",
    "build_network",
    "build_networks",
    "crystal_reduced_dos",
    "debye_level",
    "exact_frequencies",
    "local_dos",
    "local_spectrum",
    "mode_weights",
    "node_modes",
    "poles",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
    "stiffness_tensor",
    "toy_network",
]
__version__ = "0.1.0"
