"""One-click presets: the paper's figures and the crystal, as dashboard states.

A :class:`Preset` sets every model parameter and names the displacements whose
curves are pinned as references, so a lecturer reproduces a figure of the paper
(C. Jiang, *Microscopic origin of Boson peak in amorphous solids*) in one click.
Plain data: :meth:`bpwidgets.session.Session.apply_preset` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.paper import PAPER_DELTAS
from .schema import Parameters

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A named dashboard state.

    Attributes
    ----------
    name : str
        The button's text.
    parameters : Parameters
        Every control's value; ``delta`` is the live curve's displacement.
    pinned : tuple of float
        Displacements whose mean curves and histograms are pinned (same model,
        size and seeds as ``parameters``).
    description : str
        What it shows, in a sentence (the button's tooltip).
    """

    name: str
    parameters: Parameters
    pinned: tuple = ()
    description: str = ""

    def pinned_parameters(self) -> tuple:
        """The parameters of every pinned reference, in pinning order."""
        return tuple(replace(self.parameters, delta=delta) for delta in self.pinned)


#: The paper's case: a 60 x 60 grid averaged over ten seeds.
_PAPER = Parameters(size=60, delta=0.3, n_seeds=10, first_seed=0)

#: The presets, in the order of their buttons.
PRESETS = {
    preset.name: preset
    for preset in (
        Preset(
            "Fig. 2 left",
            replace(_PAPER, connection="nearest", spring="inverse"),
            PAPER_DELTAS,
            "nearest neighbours, t = 1/r: Z = 4 everywhere, Debye's law holds at low ω",
        ),
        Preset(
            "Fig. 2 right",
            replace(_PAPER, connection="cutoff", spring="inverse"),
            PAPER_DELTAS,
            "springs up to a + δ, t = 1/r: Z fluctuates and the Boson peak appears",
        ),
        Preset(
            "Fig. 4 left",
            replace(_PAPER, connection="cutoff", spring="constant"),
            PAPER_DELTAS,
            "springs up to a + δ, t = 1: the Boson peak without spring disorder",
        ),
        Preset(
            "Crystal",
            replace(_PAPER, delta=0.0, connection="nearest", spring="inverse"),
            (),
            "δ = 0: the square lattice, on Debye's level up to the van Hove peak",
        ),
    )
}
