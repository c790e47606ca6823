"""securemsg: messages between a browser and a server kept secret on top of TLS."""
