"""Development stand-ins for the WeChat mini-programs that scan the QR codes
(mounted only when ``stand_ins_enabled``)."""
