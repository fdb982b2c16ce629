"""Benchmarks of lucid-tron as ratios against a bare grpc.aio echo server measured in the same run: `python -m bench`.

Run from the repository root with the project's venv active; see bench/README.md.
"""
