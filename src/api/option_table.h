// The one table of options: it drives the defaults, the parsing of TALLY_OPTIONS, the
// `tally --help-options` text and the README's table. No other list of options exists.
//
// TALLY_OPTION(type, name, default, help)   type: bool, int, string, mode
TALLY_OPTION(mode, mode, "fast",
             "fast: allocator with always-on checks of every free. safe, debug and gc "
             "arrive with later versions and run as fast for now")
TALLY_OPTION(bool, halt_on_error, "1",
             "end the process after reporting an error (0: report, ignore the bad call, go on)")
TALLY_OPTION(int, exitcode, "1", "exit status after an error report")
TALLY_OPTION(string, log_path, "", "write reports and statistics to PATH.PID instead of stderr")
TALLY_OPTION(bool, stats, "0",
             "print statistics at exit: bytes live and peak, RSS, calls per API, blocks per "
             "size class")
TALLY_OPTION(int, verbosity, "0", "1: print the options in effect at start-up")
