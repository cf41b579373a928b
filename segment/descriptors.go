package segment

// DescriptorsPerLog is how many file descriptors an open Log holds for as
// long as it is open: the active segment's .log (see "File descriptors" in
// the package doc). A Log that writes direct
// (Config.DirectWriteBytes) opens one more at its first large append, and
// falls back to the page cache if it cannot; a roll or a fetch holds a
// sealed segment's descriptors for a moment.
const DescriptorsPerLog = 1
