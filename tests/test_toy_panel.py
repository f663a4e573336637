"""The toy-model widget without a browser: springs toggled, curves and poles follow the physics."""

from __future__ import annotations


import numpy as np
import pytest

from bpwidgets import TOY_ADDED, TOY_REMOVED, local_dos, toy_network
from bpwidgets.app import ToyModel
from bpwidgets.views.plotdata import coordination_colors
from bpwidgets.views.toyplot import TOY_OMEGA, toy_view
from oracles import exact_poles

#: Frequencies from two dense eigensolves of a 9 x 9 matrix agree to rounding.
POLE_ATOL = 1e-9
#: Curves passed through traitlets equal the core's arrays to rounding.
PLOT_RTOL = 1e-12


def _verticals_at(lines):
    """x positions of the vertical segments of a NaN-gapped Lines mark."""
    x = np.asarray(lines.x, dtype=float)
    return np.sort(x[::3]) if x.size else x


def _click(toy, node):
    """The message the browser sends when a node is clicked."""
    toy.nodes._handle_custom_msgs(None, {"event": "element_click", "data": {"index": node}})


@pytest.fixture
def toy():
    widget = ToyModel()
    yield widget
    widget.close()


def test_starts_as_the_crystal_with_two_poles(toy):
    np.testing.assert_allclose(_verticals_at(toy.pole_lines), [np.sqrt(3), np.sqrt(6)],
                               atol=POLE_ATOL)
    assert len(toy.new_pole_marks.x) == 0
    assert len(toy.changed_curves.y) == 0
    assert np.asarray(toy.rest_curves.y).shape == (9, len(TOY_OMEGA))
    assert list(toy.labels.text) == [f"{i} · Z = 4" for i in range(9)]
    np.testing.assert_allclose(toy.crystal_curves.y,
                               local_dos(toy_network(), TOY_OMEGA, eps=toy.eps.value).T,
                               rtol=PLOT_RTOL)


@pytest.mark.parametrize(
    "action, pair, z_changed",
    [("add_spring", TOY_ADDED, 5), ("remove_spring", TOY_REMOVED, 3)],
)
def test_a_changed_spring_brings_two_new_poles_at_the_exact_eigenfrequencies(
    toy, action, pair, z_changed
):
    getattr(toy, action)(*pair)
    network = toy_network(**{"add" if action == "add_spring" else "remove": [pair]})
    exact = exact_poles(network)
    crystal = exact_poles(toy_network())
    new = exact[np.abs(exact[:, None] - crystal[None, :]).min(axis=1) > 1e-6]
    assert len(new) == 2
    np.testing.assert_allclose(_verticals_at(toy.pole_lines), exact, atol=POLE_ATOL)
    np.testing.assert_allclose(_verticals_at(toy.new_pole_lines), new, atol=POLE_ATOL)
    np.testing.assert_allclose(np.sort(toy.new_pole_marks.x), new, atol=POLE_ATOL)
    # The crystal's poles survive (paper, Fig. 4).
    assert all(np.abs(exact - p).min() < POLE_ATOL for p in crystal)
    # The two nodes of the changed spring get coloured curves, the other seven grey ones.
    response = local_dos(network, TOY_OMEGA, eps=toy.eps.value)
    ends = sorted(pair)
    np.testing.assert_allclose(toy.changed_curves.y, response[:, ends].T, rtol=PLOT_RTOL)
    rest = [i for i in range(9) if i not in ends]
    np.testing.assert_allclose(toy.rest_curves.y, response[:, rest].T, rtol=PLOT_RTOL)
    assert list(toy.changed_curves.colors) == coordination_colors([z_changed] * 2)
    assert [toy.labels.text[i] for i in ends] == [f"{i} · Z = {z_changed}" for i in ends]
    # Each new pole is a peak of the curves: the response there exceeds that between poles.
    for pole in new:
        at_pole = local_dos(network, pole, eps=toy.eps.value).max()
        assert at_pole > 10 * local_dos(network, pole + 0.1, eps=toy.eps.value).max()


def test_clicking_two_nodes_toggles_the_spring_between_them(toy):
    _click(toy, 4)
    assert list(toy.nodes.selected) == [4]
    _click(toy, 2)
    assert toy.added == (TOY_ADDED[::-1],) and toy.nodes.selected is None
    added_x, _ = toy_view(add=[TOY_ADDED]).added
    np.testing.assert_array_equal(toy.added_springs.x, added_x)
    _click(toy, 2)
    _click(toy, 4)
    assert toy.added == () and toy.removed == ()
    np.testing.assert_allclose(_verticals_at(toy.pole_lines), [np.sqrt(3), np.sqrt(6)],
                               atol=POLE_ATOL)
    # A lattice spring clicked is removed, and drawn as a dashed ghost.
    _click(toy, 1)
    _click(toy, 4)
    assert toy.removed == (TOY_REMOVED[::-1],)
    assert np.isnan(np.asarray(toy.removed_springs.x, dtype=float)).sum() == 1


def _state(toy):
    return (toy.added, toy.removed, np.array(toy.rest_curves.y), np.array(toy.pole_lines.x))


def _assert_same_state(after, before):
    assert after[:2] == before[:2]
    for a, b in zip(after[2:], before[2:]):
        np.testing.assert_array_equal(a, b)


def test_the_same_node_twice_gives_a_message_and_changes_nothing(toy):
    toy.add_spring(*TOY_ADDED)
    before = _state(toy)
    _click(toy, 5)
    _click(toy, 5)
    assert "two different nodes" in toy.status.value
    assert "error" in toy.status.value
    toy.first_node.value = toy.second_node.value = 7
    toy.add_button.click()
    assert "two different nodes" in toy.status.value
    _assert_same_state(_state(toy), before)


def test_adding_an_existing_spring_from_the_lists_gives_a_message(toy):
    before = _state(toy)
    toy.first_node.value, toy.second_node.value = 4, 5  # lattice neighbours
    toy.add_button.click()
    assert "already joined" in toy.status.value
    toy.first_node.value, toy.second_node.value = 4, 0  # a diagonal: no spring
    toy.remove_button.click()
    assert "no spring between nodes 0 and 4" in toy.status.value
    _assert_same_state(_state(toy), before)
    # A valid pair from the lists works, and the message says so.
    toy.add_button.click()
    assert toy.added == ((0, 4),)
    assert "Added the spring 0–4" in toy.status.value


def test_bad_input_never_raises(toy):
    toy.add_spring(4, 9)
    assert "numbered 0 to 8" in toy.status.value
    toy.toggle_spring("a", 1)
    assert "error" in toy.status.value
    toy.nodes._handle_custom_msgs(None, {"event": "element_click", "data": {}})
    assert "Could not read the click" in toy.status.value
    assert toy.added == () and toy.removed == ()


def test_eps_sets_the_width_and_height_of_the_peaks(toy):
    toy.add_spring(*TOY_ADDED)
    heights, areas = [], []
    near = np.abs(TOY_OMEGA - np.sqrt(3)) < 0.1  # the crystal pole; the next is 0.27 away
    for eps in (0.01, 0.04):
        toy.eps.value = eps
        curve = np.asarray(toy.changed_curves.y)[0]
        heights.append(curve[near].max())
        # Area in omega^2 (d omega^2 = 2 omega d omega): the pole's weight, whatever eps.
        density, omega = curve[near] * 2 * TOY_OMEGA[near], TOY_OMEGA[near]
        areas.append(np.sum(0.5 * (density[1:] + density[:-1]) * np.diff(omega)))
    # A Lorentzian eps / (x^2 + eps^2): height 1 / eps, width 2 eps, area pi.
    assert heights[0] / heights[1] == pytest.approx(4, rel=0.05)
    assert areas[0] / areas[1] == pytest.approx(1, rel=0.1)


def test_reset_returns_to_the_crystal(toy):
    toy.add_spring(*TOY_ADDED)
    toy.remove_spring(*TOY_REMOVED)
    toy.reset()
    assert toy.added == () and toy.removed == ()
    assert len(toy.new_pole_marks.x) == 0
    assert len(toy.added_springs.x) == 0 and len(toy.removed_springs.x) == 0


def test_widget_state_round_trip(toy):
    toy.add_spring(*TOY_ADDED)
    state = toy.new_pole_marks.get_state()
    copy = type(toy.new_pole_marks)()
    copy.set_state(state)
    np.testing.assert_allclose(copy.x, toy.new_pole_marks.x)


def test_the_dashboard_has_the_toy_model_as_its_second_tab():
    from bpwidgets.app import Dashboard

    dashboard = Dashboard(size=10, delta=0.1, n_seeds=1, background=False)
    try:
        assert dashboard.tabs.titles[:2] == ("Spring networks", "Toy model: 9 nodes")
        tab = dashboard.tabs.children[1]
        assert tab.children == ()  # built when opened, not with the first page
        dashboard.tabs.selected_index = 1
        (toy,) = tab.children
        assert toy is dashboard.toy_model and isinstance(toy, ToyModel)
        toy.add_spring(*TOY_ADDED)
        np.testing.assert_allclose(toy.response.new_poles, [2.0, np.sqrt(7.0)], atol=1e-9)
    finally:
        dashboard.close()
