"""Every example in the compute core's docstrings runs and prints what it says."""

import doctest

import pytest

import bpwidgets.network
import bpwidgets.spectrum
import bpwidgets.toy


@pytest.mark.parametrize("module", [bpwidgets.network, bpwidgets.spectrum, bpwidgets.toy])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
