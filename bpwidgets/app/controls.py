"""The model's controls, built from the parameter schema.

Every slider, toggle and text box is made from its
:class:`~bpwidgets.session.schema.Field`: range, step, default, label and
choices are written once, in :data:`~bpwidgets.session.schema.FIELDS`. On a
server with visitor limits (:mod:`bpwidgets.session.visitor`) the grid and
seeds sliders end at the limits, and the pin button says when the pins are full.

The disorder's control depends on the kind of network: the δ slider for the
lattice, the pressure slider for jammed disks; the other one is hidden.
"""

from __future__ import annotations

from ipywidgets import (
    BoundedIntText,
    Button,
    FloatSlider,
    HBox,
    IntSlider,
    Layout,
    SelectionSlider,
    ToggleButtons,
    VBox,
)
from traitlets import TraitError, validate

from ..session.schema import FIELDS, JAMMED, Parameters, field_of, pressure_text
from ..session.visitor import VisitorLimits

__all__ = ["CONTINUOUS_MAX_SIZE", "Controls", "LimitedIntSlider"]

#: Largest grid on which the delta slider reports values while being dragged.
#: Above it a computation takes longer than a drag step, so only the release counts.
CONTINUOUS_MAX_SIZE = 100
_STYLE = {"description_width": "10em"}
_PIN_TOOLTIP = "keep the current curves and histogram as a reference"


class LimitedIntSlider(IntSlider):
    """An integer slider that ends at a visitor limit: a value past it is refused.

    An ordinary slider clamps a value set past its end; this one raises
    ``TraitError`` with the limit's message (``refusal(value)``, None when
    allowed), so a script that asks for more learns why it did not get it.
    """

    def __init__(self, *, refusal, **options):
        self.refusal = refusal
        super().__init__(**options)

    @validate("value")
    def _validate_value(self, proposal):
        message = self.refusal(proposal["value"])
        if message is not None:
            raise TraitError(message)
        return super()._validate_value(proposal)


def _control(field, value, limits):
    """The widget of one field: a toggle for a choice, a slider or a box for a number."""
    common = dict(value=value, description=field.label, style=_STYLE)
    if field.control == "toggle":
        return ToggleButtons(
            options=[(choice.label, choice.value) for choice in field.choices],
            tooltips=[choice.tooltip for choice in field.choices],
            **{**common, "style": {**_STYLE, "button_width": "auto"}},
        )
    if field.control == "selection":
        return SelectionSlider(options=[(pressure_text(v), v) for v in field.values],
                               **common, continuous_update=False, layout=Layout(width="100%"))
    bounds = dict(min=field.low, max=limits.high(field.name), step=field.step)
    if field.control == "box":
        return BoundedIntText(**common, **bounds, layout=Layout(width="auto"))
    wide = Layout(width="100%")  # of the controls' column (app/layout.py)
    if field.kind is float:
        return FloatSlider(**common, **bounds, readout_format=".2f", layout=wide)
    if limits.high(field.name) < field.high:
        return LimitedIntSlider(refusal=lambda asked: limits.refusal(field.name, asked),
                                **common, **bounds, continuous_update=False, layout=wide)
    return IntSlider(**common, **bounds, continuous_update=False, layout=wide)


class Controls(VBox):
    """The model's parameters, labelled in the physics' own words, and the pin buttons.

    Parameters
    ----------
    parameters : Parameters
        The values shown first (within ``limits``).
    limits : VisitorLimits
        Where the grid and seeds sliders end, and how many pins the pin button allows.

    Attributes
    ----------
    delta, size, connection, spring, n_seeds, first_seed, pressure
        The parameter widgets (one per schema field); their ``value`` make up a
        :class:`~bpwidgets.session.schema.Parameters`. Of ``delta`` and
        ``pressure``, the one the kind of network ignores is hidden.
    new_networks, pin, clear_pins : ipywidgets.Button
    limits : VisitorLimits
    showing : bool
        True while :meth:`show` sets the widgets.
    """

    def __init__(self, parameters: Parameters, limits: VisitorLimits = VisitorLimits()):
        self.showing = False
        self.limits = limits
        for field in FIELDS:
            setattr(self, field.name, _control(field, getattr(parameters, field.name), limits))
        self.new_networks = Button(description="new networks", icon="refresh",
                                   tooltip="draw new random networks (next seeds)")
        self.pin = Button(description="pin", icon="thumb-tack", tooltip=_PIN_TOOLTIP)
        self.clear_pins = Button(description="clear pins", icon="times")
        rows = [HBox([self.first_seed, self.new_networks]), HBox([self.pin, self.clear_pins])]
        for row in rows:
            row.add_class("bp-row")  # wraps where the column is narrow
        super().__init__([self.delta, self.pressure, self.size, self.connection, self.spring,
                          self.n_seeds, *rows])
        self.add_class("bp-controls")
        # Stable hooks for the browser tests and benchmarks.
        for name in [f.name for f in FIELDS] + ["new_networks", "pin", "clear_pins"]:
            getattr(self, name).add_class(f"bp-{name.replace('_', '-')}")
        self.size.observe(self._continuous_below_limit, "value")
        self.connection.observe(self._show_disorder_control, "value")
        self.new_networks.on_click(self._shift_seeds)
        self._continuous_below_limit()
        self._show_disorder_control()
        self.show_pins(0)

    @property
    def widgets(self) -> dict:
        """``{parameter name: widget}`` in the schema's order."""
        return {field.name: getattr(self, field.name) for field in FIELDS}

    @property
    def parameters(self) -> Parameters:
        """The parameters the widgets show."""
        values = {name: widget.value for name, widget in self.widgets.items()}
        values["delta"] = round(values["delta"], 6)
        return Parameters(**values)

    def show(self, parameters: Parameters):
        """Set every widget to ``parameters``; :attr:`showing` is True meanwhile.

        Observers fire per changed widget: they check :attr:`showing` to tell a value
        set here from a user's move.
        """
        self.showing = True
        try:
            for name, widget in self.widgets.items():
                widget.value = getattr(parameters, name)
        finally:
            self.showing = False

    def show_pins(self, count: int):
        """Enable the pin button, or disable it saying the pins are full (visitor limits)."""
        full = self.limits.pins_full(count)
        self.pin.disabled = full
        self.pin.description = f"pins full ({self.limits.pins})" if full else "pin"
        self.pin.tooltip = (f"{self.limits.message('pins')}; clear them to pin again" if full
                            else _PIN_TOOLTIP)

    @property
    def jammed(self) -> bool:
        """Whether the kind chosen is jammed disks."""
        return self.connection.value == JAMMED

    def _show_disorder_control(self, change=None):
        """Show the δ slider for the lattice, the pressure slider for jammed disks.

        The other one is hidden (``display: none`` also takes it out of the
        keyboard's tab order); what it is set to changes no request.
        """
        for widget, shown in ((self.delta, not self.jammed), (self.pressure, self.jammed)):
            widget.layout.display = None if shown else "none"

    def _continuous_below_limit(self, change=None):
        self.delta.continuous_update = self.size.value <= CONTINUOUS_MAX_SIZE

    def _shift_seeds(self, _button):
        seed = field_of("first_seed")
        self.first_seed.value = min(seed.high, self.first_seed.value + self.n_seeds.value)
