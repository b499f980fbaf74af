"""Dashboard components: `pn.viewable.Viewer` classes over the library objects.

`apps/hsi_dashboard.py` only assembles them and calls `.servable()`."""
