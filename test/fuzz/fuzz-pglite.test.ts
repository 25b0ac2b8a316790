/** Issue 11's property-based fuzz suite against a vault on embedded PGlite (see test/helpers/fuzz-suite.ts). */
import { describeFuzzSuite } from "../helpers/fuzz-suite.js";

describeFuzzSuite("pglite");
