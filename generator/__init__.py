"""Canziani report: measure image classifiers, render the study's figures as a static site."""

__version__ = "0.1.0"
