"""Use cases: plain values in, plain values out (no Flask, no click)."""
