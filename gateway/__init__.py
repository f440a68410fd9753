"""tpp-gateway: performance allowances (TPP) from BKN e-Kinerja data to regional payroll."""

__version__ = "0.1.0"
