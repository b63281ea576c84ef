"""Reading and writing networks in file formats (BIF)."""

from npprob.io.bif import bif_string, read_bif, read_bif_string, write_bif

__all__ = ["bif_string", "read_bif", "read_bif_string", "write_bif"]
