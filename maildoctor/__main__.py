from maildoctor.cli import entry

entry()
