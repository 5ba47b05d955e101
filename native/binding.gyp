{
  "targets": [
    {
      "target_name": "recovery",
      "sources": ["libsecp256k1.c"],
      "libraries": ["-lsecp256k1"]
    },
    {
      "target_name": "tree_map",
      "sources": ["tree-map.c"]
    }
  ]
}
