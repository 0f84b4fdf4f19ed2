"""QR codes over one-time sessions (微信扫码人脸识别, 电子营业执照): the sessions
in the shared store and the endpoints the showing page polls."""
