"""The benchmarks are commands: their process takes emorec's settings before TensorFlow loads."""

import emorec

emorec.configure_process()
