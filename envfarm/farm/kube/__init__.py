"""The Kubernetes adapter: raw API calls, informers, leader election, the cluster the controller drives."""
