"""The demo lab: local stand-ins (DNS, SMTP, AWS) that maildoctor can be pointed at."""
