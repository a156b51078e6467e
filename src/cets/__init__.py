"""CETS: the carbon emission allowance system.

Registry, trading venue, settlement, compliance and supervision in one package.
"""

__version__ = "0.1.0"
