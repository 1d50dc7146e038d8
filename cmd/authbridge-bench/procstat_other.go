//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("process statistics need Linux /proc")

func sysProcAttr() *syscall.SysProcAttr { return nil }

func cpuTime(int) (time.Duration, error) { return 0, errNoProc }

func rssBytes(int) (uint64, error) { return 0, errNoProc }
