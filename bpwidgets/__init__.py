"""bpwidgets: where the Boson peak of amorphous solids comes from, interactively.

The compute core (no widgets): :func:`build_network` makes a frozen spring
network, :func:`reduced_dos` its Debye-reduced vibrational density of states
over random seeds, :func:`debye_level` its own Debye level, and
:func:`local_dos` / :func:`toy_network` the paper's nine-node toy model, and
:func:`jammed_packing` a jammed packing of soft disks, a real glass whose
contact network the same functions take. The
dashboard lives in :mod:`bpwidgets.app`, sweeps over a grid of parameters on Dask in
:mod:`bpwidgets.sweep`; ``docs/architecture.md`` draws the layers.
"""

from .core.analysis import (
    DOS_MOMENTS,
    BosonPeak,
    boson_peak,
    boson_peak_of,
    coordination_histogram,
)
from .core.debye import CRYSTAL_DEBYE_LEVEL, debye_level, stiffness_tensor
from .core.dos import (
    EXACT_MAX_NODES,
    crystal_reduced_dos,
    exact_frequencies,
    keep_network_spectrum,
    network_spectrum,
    reduced_dos,
    reduced_dos_of,
    spectrum_bound,
    stored_spectra,
)
from .core.elastic import ElasticModuli, elastic_moduli, vibrational_dos
from .core.jamming import ContactNetwork, JammedPacking, jammed_packing
from .core.modes import LocalSpectrum, NodeModes, local_spectrum, mode_weights, node_modes
from .core.network import CONNECTIONS, SPRINGS, Network, build_network, build_networks
from .core.result import NetworkSpectrum, ReducedDOS
from .core.store import ResultStore
from .core.toy import TOY_ADDED, TOY_REMOVED, local_dos, poles, toy_network

__all__ = [
    "CONNECTIONS",
    "CRYSTAL_DEBYE_LEVEL",
    "DOS_MOMENTS",
    "EXACT_MAX_NODES",
    "BosonPeak",
    "ContactNetwork",
    "ElasticModuli",
    "JammedPacking",
    "LocalSpectrum",
    "NodeModes",
    "SPRINGS",
    "TOY_ADDED",
    "TOY_REMOVED",
    "Network",
    "NetworkSpectrum",
    "ReducedDOS",
    "ResultStore",
    "boson_peak",
    "boson_peak_of",
    "build_network",
    "build_networks",
    "coordination_histogram",
    "crystal_reduced_dos",
    "debye_level",
    "elastic_moduli",
    "exact_frequencies",
    "jammed_packing",
    "keep_network_spectrum",
    "local_dos",
    "local_spectrum",
    "mode_weights",
    "network_spectrum",
    "node_modes",
    "poles",
    "reduced_dos",
    "reduced_dos_of",
    "spectrum_bound",
    "stiffness_tensor",
    "stored_spectra",
    "toy_network",
    "vibrational_dos",
]
__version__ = "0.1.0"
