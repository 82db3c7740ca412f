"""InpaintBench's tests: a package, so that test files import their shared helpers as ``tests.helpers.<module>``
(pytest puts the repository root on sys.path for a package under it) and never from one another."""
