"""envfarm.verify: graders of candidates (see DESIGN.md).

Pure: ``parsers`` (log parsers keyed by SWE-bench ``log_parser`` names), ``grading`` (outcome, test splits,
reward), ``hacks`` (hack flags of a patch), ``reruns`` (confidence, flake rates), ``command`` and
``scripts`` (what runs in an environment), ``diffpaths`` (files and lines a diff touches).
I/O: ``tests`` (the test verifier: a fresh environment per verification).
"""
