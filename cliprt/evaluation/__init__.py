"""The benchmark runner: agents x env ids x seeds x episodes, reports, suites (``cliprt bench``)."""
