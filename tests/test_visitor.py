"""Visitor limits of a shared server: parsed, and held for links, controls and pins alike.

The server sets ``BPWIDGETS_LIMITS`` for its kernels; every test here sets it
with ``monkeypatch`` and drives the session or the widgets' state, no browser.
The limits are small (L = 30, 2 seeds) so every page computes in milliseconds.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from traitlets import TraitError

from bpwidgets.app import Dashboard
from bpwidgets.app.controls import Controls, LimitedIntSlider
from bpwidgets.session import LimitError, Parameters, Session, VisitorLimits
from bpwidgets.session.presets import PRESETS
from bpwidgets.session.schema import field_of
from bpwidgets.session.share import parse_query
from bpwidgets.session.visitor import LIMITS_VARIABLE

#: The limits of these tests: a small grid, few seeds and pins, so pages compute fast.
LIMITS = {"size": 30, "seeds": 2, "pins": 2}


@pytest.fixture
def limited(monkeypatch):
    """A server with :data:`LIMITS` set the way ``serve.py`` sets them for its kernels."""
    monkeypatch.setenv(LIMITS_VARIABLE, json.dumps(LIMITS))
    return VisitorLimits(**LIMITS)


@pytest.fixture
def unlimited(monkeypatch):
    monkeypatch.delenv(LIMITS_VARIABLE, raising=False)


def _closing(dashboard, request):
    request.addfinalizer(dashboard.close)
    return dashboard


# -- the variable -------------------------------------------------------------------------


def test_the_variable_sets_the_limits_and_a_missing_key_is_no_limit(monkeypatch):
    monkeypatch.setenv(LIMITS_VARIABLE, '{"size": 200, "pins": 10}')
    limits = VisitorLimits.from_environ()
    assert limits == VisitorLimits(size=200, seeds=None, pins=10, disks=None)
    assert limits.high("size") == 200
    assert limits.high("n_seeds") == field_of("n_seeds").high
    assert limits.high("delta") == field_of("delta").high  # not a limited quantity


def test_without_the_variable_there_are_no_limits(unlimited):
    limits = VisitorLimits.from_environ()
    assert limits == VisitorLimits() and not limits.any
    assert limits.check(Parameters(size=300, n_seeds=20)).size == 300
    assert not limits.pins_full(1000)


@pytest.mark.parametrize("text, reason", [
    ("{size: 200}", "not JSON"),
    ("[200, 20]", "not a JSON object"),
    ('{"sise": 200}', "unknown keys ['sise']"),
    ('{"size": 5}', "the size limit must be an integer of at least 10"),
    ('{"size": 200.5}', "the size limit must be"),
    ('{"seeds": 0}', "the seeds limit must be an integer of at least 1"),
    ('{"seeds": "5"}', "the seeds limit must be"),
    ('{"pins": -1}', "the pins limit must be an integer of at least 0"),
    ('{"pins": true}', "the pins limit must be"),
    ('{"disks": 99}', "the disks limit must be an integer of at least 100"),
    ('{"disks": 3.6e4}', "the disks limit must be"),
])
def test_a_malformed_variable_is_a_warning_and_no_limits(monkeypatch, caplog, text, reason):
    monkeypatch.setenv(LIMITS_VARIABLE, text)
    with caplog.at_level(logging.WARNING, logger="bpwidgets"):
        assert VisitorLimits.from_environ() == VisitorLimits()
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert LIMITS_VARIABLE in record.getMessage() and reason in record.getMessage()
    with pytest.raises(ValueError, match="must be|not JSON|not a JSON|unknown"):
        VisitorLimits.parse(text)


def test_a_limit_between_the_sliders_steps_or_past_the_range_is_what_a_slider_can_take(
        monkeypatch):
    monkeypatch.setenv(LIMITS_VARIABLE, '{"size": 205, "seeds": 50}')
    limits = VisitorLimits.from_environ()
    assert (limits.size, limits.seeds) == (200, field_of("n_seeds").high)
    assert limits.message("size") == "This server allows at most L = 200"
    assert limits.check(Parameters(size=200, n_seeds=20)).size == 200


def test_a_page_opens_under_a_malformed_variable(monkeypatch, request):
    monkeypatch.setenv(LIMITS_VARIABLE, "size=200")
    dashboard = _closing(Dashboard.from_query("size=40&seeds=1", background=False), request)
    assert dashboard.snapshot.network.size == 40
    assert dashboard.controls.size.max == field_of("size").high


# -- URL queries --------------------------------------------------------------------------


def test_a_query_past_a_limit_opens_at_the_limit_and_says_so():
    limits = VisitorLimits(size=200, seeds=5)
    parameters, _, messages = parse_query("size=300&seeds=20&delta=0.2", limits=limits)
    assert (parameters.size, parameters.n_seeds, parameters.delta) == (200, 5, 0.2)
    assert messages == ["This server allows at most L = 200; showing L = 200.",
                        "This server allows at most 5 random networks; "
                        "showing 5 random networks."]


def test_defaults_past_a_limit_are_held_without_a_message():
    parameters, _, messages = parse_query("delta=0.2", limits=VisitorLimits(size=50, seeds=3))
    assert (parameters.size, parameters.n_seeds, messages) == (50, 3, [])


def test_a_query_within_the_limits_or_without_limits_is_unchanged(unlimited):
    parameters, _, messages = parse_query("size=300&seeds=20", limits=VisitorLimits.from_environ())
    assert (parameters.size, parameters.n_seeds, messages) == (300, 20, [])
    parameters, _, messages = parse_query("size=200", limits=VisitorLimits(size=200))
    assert (parameters.size, messages) == (200, [])


def test_the_page_of_a_query_past_the_limits_shows_the_limits(limited, request):
    dashboard = _closing(Dashboard.from_query("size=300&seeds=20&delta=0.2", background=False),
                         request)
    assert dashboard.snapshot.network.size == 30
    assert len(dashboard.snapshot.dos.seeds) == 2
    assert dashboard.controls.parameters == Parameters(size=30, n_seeds=2, delta=0.2)
    notice = dashboard.lecture.notice.value
    assert "This server allows at most L = 30; showing L = 30." in notice
    assert "This server allows at most 2 random networks; showing 2 random networks." in notice
    assert "size=30" in dashboard.link and "seeds=2" in dashboard.link


# -- the session --------------------------------------------------------------------------


def test_the_session_refuses_parameters_past_the_limits(limited):
    session = Session(Parameters(size=20, n_seeds=1), background=False)
    assert session.limits == limited
    session.start()
    with pytest.raises(LimitError, match=r"^This server allows at most L = 30; "
                                         r"asked for L = 40\.$"):
        session.update(size=40)
    with pytest.raises(LimitError, match="at most 2 random networks; asked for 3"):
        session.update(n_seeds=3)
    assert session.parameters == Parameters(size=20, n_seeds=1)
    assert session.snapshot.request.parameters.size == 20
    session.update(size=30, n_seeds=2)
    assert session.snapshot.network.size == 30
    with pytest.raises(LimitError):
        Session(Parameters(size=40), background=False)
    assert Session(background=False).parameters.size == 30  # the default (60) held


def test_pins_stop_at_the_limit_and_a_preset_pins_no_more(limited):
    session = Session(Parameters(size=10, n_seeds=1), background=False)
    session.start()
    session.pin()
    session.update(delta=0.1)
    session.pin()
    assert len(session.pins) == 2
    with pytest.raises(LimitError, match="This server allows at most 2 pins"):
        session.pin()
    assert len(session.pins) == 2
    session.apply_preset("Fig. 2 right")
    preset = PRESETS["Fig. 2 right"]
    assert len(preset.pinned) > 2
    assert [p.parameters.delta for p in session.pins] == list(preset.pinned[:2])
    assert {(p.parameters.size, p.parameters.n_seeds) for p in session.pins} == {(30, 2)}
    assert session.parameters == Parameters(**{**vars(preset.parameters), "size": 30,
                                               "n_seeds": 2})


def test_a_limit_is_a_message_on_the_page_not_an_error_in_the_log(limited, caplog):
    session = Session(Parameters(size=10, n_seeds=1), background=False)
    with caplog.at_level(logging.INFO, logger="bpwidgets"):
        session.show_error(LimitError("This server allows at most L = 30; asked for L = 40."))
    assert session.status.kind == "error"
    assert session.status.text == "This server allows at most L = 30; asked for L = 40."
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert caplog.records[0].exc_info is None


# -- the glass's cost: disks per request ----------------------------------------------------

#: At most 800 jammed disks per request: two packings of N = 400, or eight of N = 100.
DISKS = VisitorLimits(disks=800)
#: Its sentence, and as a pattern.
DISKS_TEXT = "This server allows at most 800 jammed disks per request (N × packings)"
DISKS_PATTERN = re.escape(DISKS_TEXT)


def _glass(**values):
    return Parameters(connection="jammed", pressure=0.01, **values)


def test_the_disks_limit_bounds_a_glass_by_its_disks_times_its_packings():
    assert VisitorLimits.parse('{"disks": 36000}').disks == 36000
    assert DISKS.check(_glass(size=20, n_seeds=2)) == _glass(size=20, n_seeds=2)
    assert DISKS.check(_glass(size=10, n_seeds=8)).n_seeds == 8
    with pytest.raises(LimitError, match=rf"^{DISKS_PATTERN}; asked for 3 packings of N = 400 "
                                         r"\(1200 disks\)\.$"):
        DISKS.check(_glass(size=20, n_seeds=3))
    with pytest.raises(LimitError, match="1 packing of N = 900"):
        DISKS.check(_glass(size=30, n_seeds=1))
    lattice = Parameters(size=300, n_seeds=20)  # the lattice makes no disks
    assert DISKS.check(lattice) == lattice and DISKS.hold(lattice) == (lattice, [])


def test_the_class_limit_allows_the_lecture_glass_and_no_more_than_its_disks():
    from bpwidgets.warm import LECTURE_SEEDS, LECTURE_SIZE

    limits = VisitorLimits(disks=36000)  # voila-class.json's max_disks
    lecture = _glass(size=LECTURE_SIZE, n_seeds=LECTURE_SEEDS)
    assert limits.check(lecture) == lecture
    with pytest.raises(LimitError, match="11 packings of N = 3600"):
        limits.check(_glass(size=LECTURE_SIZE, n_seeds=LECTURE_SEEDS + 1))
    assert limits.hold(_glass(size=100, n_seeds=20))[0].n_seeds == 3
    config = json.loads(
        (Path(__file__).resolve().parents[1] / "voila-class.json").read_text())
    assert config["BpwidgetsLimits"]["max_disks"] == limits.disks


def test_a_glass_query_past_the_disks_opens_with_fewer_packings_and_says_so():
    parameters, _, messages = parse_query("connection=jammed&pressure=0.01&size=20&seeds=5",
                                          limits=DISKS)
    assert (parameters.size, parameters.n_seeds) == (20, 2)
    assert messages == [f"{DISKS_TEXT}; showing 2 packings of N = 400."]
    # One packing past the limit: the grid comes down too.
    parameters, _, messages = parse_query("connection=jammed&size=40&seeds=3", limits=DISKS)
    assert (parameters.size, parameters.n_seeds, parameters.n_disks) == (20, 2, 400)
    assert messages == [f"{DISKS_TEXT}; showing 2 packings of N = 400."]
    # A lattice link, and a glass within the limit, are unchanged.
    parameters, _, messages = parse_query("size=200&seeds=20", limits=DISKS)
    assert (parameters.size, parameters.n_seeds, messages) == (200, 20, [])
    parameters, _, messages = parse_query("connection=jammed&size=10&seeds=8", limits=DISKS)
    assert (parameters.size, parameters.n_seeds, messages) == (10, 8, [])
    # Defaults past it are held without a message (the kind alone was not asked for here).
    parameters, _, messages = parse_query("delta=0.2", _glass(size=20, n_seeds=10),
                                          limits=DISKS)
    assert (parameters.n_seeds, messages) == (2, [])


def test_the_session_refuses_a_glass_past_the_disks_naming_the_limit():
    session = Session(_glass(size=10, n_seeds=2), background=False, limits=DISKS)
    session.start()
    with pytest.raises(LimitError, match=rf"^{DISKS_PATTERN}; asked for 3 packings of N = 400"):
        session.update(size=20, n_seeds=3)
    with pytest.raises(LimitError, match="9 packings of N = 100"):
        session.update(n_seeds=9)
    assert session.parameters == _glass(size=10, n_seeds=2)
    assert session.snapshot.request.parameters.n_seeds == 2
    with pytest.raises(LimitError, match=DISKS_PATTERN):
        Session(_glass(size=30, n_seeds=1), background=False, limits=DISKS)
    with pytest.raises(LimitError, match=DISKS_PATTERN):
        Session(Parameters(size=30, n_seeds=20), background=False,
                limits=DISKS).update(connection="jammed")
    assert Session(_glass(size=20, n_seeds=20), background=False,
                   limits=VisitorLimits(seeds=20)).parameters.n_seeds == 20


def test_a_dashboard_asked_for_a_glass_past_the_disks_raises_naming_it():
    with pytest.raises(ValueError, match=rf"{DISKS_PATTERN}; asked for 3 packings of N = 400"):
        Dashboard(connection="jammed", size=20, n_seeds=3, background=False, limits=DISKS)


def test_a_control_moved_past_the_disks_is_refused_on_the_status_line(request, caplog):
    dashboard = _closing(Dashboard(connection="jammed", size=20, n_seeds=2, pressure=0.01,
                                   background=False, limits=DISKS), request)
    shown = dashboard.snapshot
    with caplog.at_level(logging.INFO, logger="bpwidgets"):
        dashboard.controls.n_seeds.value = 3
    assert dashboard.session.status.kind == "error"
    assert dashboard.session.status.text == (f"{DISKS_TEXT}; asked for 3 packings of "
                                             "N = 400 (1200 disks).")
    assert DISKS_TEXT in dashboard.status.value
    assert dashboard.snapshot is shown and dashboard.session.parameters.n_seeds == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    dashboard.controls.connection.value = "cutoff"  # the lattice: 3 seeds are allowed
    assert dashboard.snapshot.request.parameters.n_seeds == 3


# -- the controls and the dashboard -------------------------------------------------------


def test_the_sliders_end_at_the_limits(limited, request):
    dashboard = _closing(Dashboard(size=20, n_seeds=1, background=False), request)
    controls = dashboard.controls
    assert (controls.size.max, controls.n_seeds.max) == (30, 2)
    assert isinstance(controls.size, LimitedIntSlider)
    controls.size.value = 30
    assert dashboard.snapshot.network.size == 30


def test_a_value_set_past_a_limit_is_refused_with_the_limit(limited, request):
    dashboard = _closing(Dashboard(size=20, n_seeds=1, background=False), request)
    with pytest.raises(TraitError, match=r"This server allows at most L = 30; asked for L = 300"):
        dashboard.controls.size.value = 300
    with pytest.raises(TraitError, match="at most 2 random networks"):
        dashboard.controls.n_seeds.value = 3
    assert dashboard.controls.parameters == Parameters(size=20, n_seeds=1)
    assert dashboard.snapshot.network.size == 20
    with pytest.raises(LimitError, match="at most L = 30"):
        dashboard.session.update(size=40)


def test_a_dashboard_asked_for_more_than_the_limit_raises_naming_it(limited):
    with pytest.raises(ValueError, match=r"This server allows at most L = 30; asked for L = 300"):
        Dashboard(size=300, background=False)
    with pytest.raises(ValueError, match="at most 2 random networks; asked for 20"):
        Dashboard(size=10, n_seeds=20, background=False)


def test_the_pin_button_says_when_the_pins_are_full(limited, request):
    dashboard = _closing(Dashboard(size=10, n_seeds=1, background=False), request)
    pin = dashboard.controls.pin
    pin.click()
    assert (pin.description, pin.disabled) == ("pin", False)
    dashboard.controls.delta.value = 0.1
    pin.click()
    assert len(dashboard.pins) == 2
    assert (pin.description, pin.disabled) == ("pins full (2)", True)
    assert "This server allows at most 2 pins" in pin.tooltip
    dashboard.controls.clear_pins.click()
    assert (pin.description, pin.disabled) == ("pin", False)


def test_no_pins_at_all_when_the_limit_is_zero(monkeypatch, request):
    monkeypatch.setenv(LIMITS_VARIABLE, '{"pins": 0}')
    dashboard = _closing(Dashboard(size=10, n_seeds=1, background=False), request)
    assert dashboard.controls.pin.disabled
    dashboard.apply_preset("Fig. 2 left")
    assert dashboard.pins == ()


def test_without_limits_the_controls_keep_the_full_ranges(unlimited, request):
    dashboard = _closing(Dashboard(size=20, n_seeds=1, background=False), request)
    controls = dashboard.controls
    assert (controls.size.max, controls.n_seeds.max) == (field_of("size").high,
                                                         field_of("n_seeds").high)
    assert not isinstance(controls.size, LimitedIntSlider)
    assert Controls(Parameters()).limits == VisitorLimits()
    for _ in range(4):
        controls.pin.click()
    assert len(dashboard.pins) == 4 and not controls.pin.disabled
