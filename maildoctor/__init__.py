"""maildoctor: find out why mail from your domain stopped arriving."""

__version__ = "0.1.0"
