package segment

// DescriptorsPerLog is how many file descriptors an open Log holds for as
// long as it is open: the active segment's .log (see "File descriptors" in
// the package doc). A roll or a fetch holds a sealed segment's .log for a
// moment.
const DescriptorsPerLog = 1

// DirectDescriptorsPerLog is how many more a Log that writes direct
// (Config.DirectWriteBytes) holds from its first large append on; if it
// cannot open them it writes through the page cache.
const DirectDescriptorsPerLog = 1
