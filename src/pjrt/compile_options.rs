//! `xla.CompileOptionsProto`, the few fields we set, written by hand with prost's derive.
//!
//! Field numbers follow `xla/pjrt/proto/compile_options.proto` and `xla/xla.proto`.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct CompileOptionsProto {
    #[prost(message, optional, tag = "3")]
    pub executable_build_options: Option<ExecutableBuildOptionsProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ExecutableBuildOptionsProto {
    #[prost(int64, tag = "1")]
    pub device_ordinal: i64,
    #[prost(int64, tag = "4")]
    pub num_replicas: i64,
    #[prost(int64, tag = "5")]
    pub num_partitions: i64,
    #[prost(bool, tag = "6")]
    pub use_spmd_partitioning: bool,
    #[prost(message, optional, tag = "9")]
    pub device_assignment: Option<DeviceAssignmentProto>,
    #[prost(bool, repeated, tag = "12")]
    pub allow_spmd_sharding_propagation_to_output: Vec<bool>,
    #[prost(bool, tag = "19")]
    pub use_shardy_partitioner: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct DeviceAssignmentProto {
    #[prost(int32, tag = "1")]
    pub replica_count: i32,
    #[prost(int32, tag = "2")]
    pub computation_count: i32,
    #[prost(message, repeated, tag = "3")]
    pub computation_devices: Vec<ComputationDevice>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ComputationDevice {
    #[prost(int64, repeated, tag = "1")]
    pub replica_device_ids: Vec<i64>,
}

/// How to compile a program: replicas and partitions, the partitioner, and which devices run it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompileOptions {
    pub num_replicas: usize,
    pub num_partitions: usize,
    /// Partition the program by its sharding annotations (GSPMD or Shardy).
    pub spmd: bool,
    /// Use the Shardy partitioner (needed for `sdy.*` annotations).
    pub shardy: bool,
    /// `device_assignment[replica][partition]` = device id; None lets the plugin choose.
    pub device_assignment: Option<Vec<Vec<i64>>>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            num_replicas: 1,
            num_partitions: 1,
            spmd: false,
            shardy: false,
            device_assignment: None,
        }
    }
}

impl CompileOptions {
    /// One replica, `n` partitions, SPMD partitioning by the program's sharding annotations.
    pub fn spmd(num_partitions: usize) -> Self {
        CompileOptions {
            num_partitions,
            spmd: num_partitions > 1,
            ..Default::default()
        }
    }

    pub fn with_shardy(mut self, shardy: bool) -> Self {
        self.shardy = shardy;
        self
    }

    pub fn num_devices(&self) -> usize {
        self.num_replicas * self.num_partitions
    }

    /// The serialized `CompileOptionsProto`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let device_assignment =
            self.device_assignment
                .as_ref()
                .map(|by_replica| DeviceAssignmentProto {
                    replica_count: self.num_replicas as i32,
                    computation_count: self.num_partitions as i32,
                    // The proto is computation-major: one entry per partition, listing replicas.
                    computation_devices: (0..self.num_partitions)
                        .map(|p| ComputationDevice {
                            replica_device_ids: by_replica.iter().map(|r| r[p]).collect(),
                        })
                        .collect(),
                });
        CompileOptionsProto {
            executable_build_options: Some(ExecutableBuildOptionsProto {
                device_ordinal: -1,
                num_replicas: self.num_replicas as i64,
                num_partitions: self.num_partitions as i64,
                use_spmd_partitioning: self.spmd,
                device_assignment,
                allow_spmd_sharding_propagation_to_output: if self.spmd {
                    vec![true]
                } else {
                    vec![]
                },
                use_shardy_partitioner: self.shardy,
            }),
        }
        .encode_to_vec()
    }
}
