"""Green bond impact tracker."""

import sys

import py_ecc  # noqa: F401  (imported for its side effect, undone below)

# py_ecc (via web3 and eth-account) raises the recursion limit to 100,000 when it is imported.
# C code that recurses per level, such as the JSON parser, then overflows the C stack long
# before Python's check stops it, and the process dies (one request of nested brackets did).
# It is imported above so that its side effect has happened, then undone for every entry point:
# Python's default, a depth the C stack of the main and worker threads can hold.
sys.setrecursionlimit(1000)
