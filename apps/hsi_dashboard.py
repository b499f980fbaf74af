"""The explore dashboard: `panel serve apps/hsi_dashboard.py`.

Opens on the embedded default scene (Indian Pines, shipped in the tensorly wheel), so it works
offline. This file only assembles components from `explore.dashboard` (see
`explore.dashboard.app.build_dashboard`): one page, session state and training thread per
browser tab."""

from explore.dashboard.app import build_dashboard

build_dashboard().servable()
