"""What the tests and the benchmarks share: the test environment, a bootstrapped stack
driven through chalice.test.Client, the AWS-call recorder and spec fixtures."""
