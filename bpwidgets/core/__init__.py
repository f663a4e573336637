"""The compute core: networks, their spectra, the Debye level, the toy model, the analysis.

Nothing here imports widgets, plotting, or any other layer of the package: a
script, a test or a Dask worker uses it alone. The public names are re-exported
by :mod:`bpwidgets`. The modules, each importing only those before it:

* :mod:`~bpwidgets.core.parallel`: the thread pool and the one policy for
  where parallel work runs;
* :mod:`~bpwidgets.core.limits`: the most memory one request may need;
* :mod:`~bpwidgets.core.store`: the shared store of per-network results on disk;
* :mod:`~bpwidgets.core.network`: the frozen spring networks;
* :mod:`~bpwidgets.core.linalg`: threaded sparse products, stacks of networks,
  the Chebyshev recursion and the Lanczos bound of the spectrum;
* :mod:`~bpwidgets.core.debye`: the Debye level from the conductance solve;
* :mod:`~bpwidgets.core.kpm`: Chebyshev moments, the Jackson kernel and the
  Jacobi reconstruction;
* :mod:`~bpwidgets.core.outliers`: the stiff modes above the bulk, found
  locally and deflated from the Chebyshev moments;
* :mod:`~bpwidgets.core.result`: ``ReducedDOS``, the result, and its error bars;
* :mod:`~bpwidgets.core.dos`: the Debye-reduced density of states;
* :mod:`~bpwidgets.core.modes`: where the modes live (mode weights);
* :mod:`~bpwidgets.core.toy`, :mod:`~bpwidgets.core.analysis`,
  :mod:`~bpwidgets.core.paper`: the toy model, the Boson-peak analysis and
  the paper's numbers;
* :mod:`~bpwidgets.core.fire`: FIRE, the relaxation that makes the packings;
* :mod:`~bpwidgets.core.jamming`: jammed packings of soft disks, their
  contact networks and Hessians (its :func:`jammed_packing`,
  :class:`JammedPacking` and :class:`ContactNetwork` are also here);
* :mod:`~bpwidgets.core.packings`: packings and their contact networks'
  spectra kept in the result store;
* :mod:`~bpwidgets.core.elastic`: a packing's elastic moduli, the reduced
  DOS of its full 2D Hessian and its Debye level (:func:`elastic_moduli`,
  :class:`ElasticModuli` and :func:`vibrational_dos` are also here).

Examples
--------
>>> from bpwidgets.core.dos import reduced_dos
>>> reduced_dos(20, 0.2, connection="cutoff", spring="inverse", seeds=2).per_seed.shape
(2, 401)
"""

from .elastic import ElasticModuli, elastic_moduli, vibrational_dos
from .jamming import ContactNetwork, JammedPacking, jammed_packing

__all__ = ["ContactNetwork", "ElasticModuli", "JammedPacking", "elastic_moduli",
           "jammed_packing", "vibrational_dos"]
