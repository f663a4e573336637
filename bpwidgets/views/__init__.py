"""The views layer: results as plain plot arrays, for any renderer.

:mod:`~bpwidgets.views.plotdata` turns networks, reduced DOS and histograms
into arrays; :mod:`~bpwidgets.views.toyplot` does the same for the toy model.
The bqplot dashboard (:mod:`bpwidgets.app`) and the matplotlib figures
(:mod:`bpwidgets.figures`) both draw them. No widget or plotting library is
imported here.
"""
