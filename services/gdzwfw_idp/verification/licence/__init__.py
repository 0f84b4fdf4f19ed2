"""电子营业执照: the licence authority's signed assertion (``verifier``), its
round trip through a QR session (``assertions``), and the level it raises."""
