package cluster

// Exported for the tests of package cluster_test.
var DirContent = dirContent
