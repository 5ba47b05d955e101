{
  "targets": [
    {
      "target_name": "recovery",
      "sources": ["libsecp256k1.c"],
      "libraries": ["-lsecp256k1"]
    }
  ]
}
