module @attention_block attributes {mhlo.num_partitions = 4 : i32, mhlo.num_replicas = 1 : i32} {
  sdy.mesh @mesh = <["data"=2, "model"=2]>
  func.func public @main(%v0: tensor<2x4x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}, {}]>}, %v1: tensor<2x4xi32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}]>}, %v2: tensor<2x16x8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"model"}, {}, {}]>}, %v3: tensor<2x2x16x8xf32> {sdy.sharding = #sdy.sharding<@mesh, [{}, {"model"}, {}, {}]>}, %v4: tensor<2x8x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"model"}, {}, {}]>}) -> (tensor<2x4x16xf32> {sdy.sharding = #sdy.sharding<@mesh, [{"data"}, {}, {}]>}) {
    %v5 = "stablehlo.reshape"(%v1) : (tensor<2x4xi32>) -> tensor<2x4x1xi32>
    %v6 = "stablehlo.broadcast_in_dim"(%v5) {broadcast_dimensions = array<i64: 0, 1, 2>} : (tensor<2x4x1xi32>) -> tensor<2x4x4xi32>
    %v7 = "stablehlo.reshape"(%v1) : (tensor<2x4xi32>) -> tensor<2x1x4xi32>
    %v8 = "stablehlo.broadcast_in_dim"(%v7) {broadcast_dimensions = array<i64: 0, 1, 2>} : (tensor<2x1x4xi32>) -> tensor<2x4x4xi32>
    %v9 = "stablehlo.compare"(%v8, %v6) {comparison_direction = #stablehlo<comparison_direction LE>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi1>
    %v10 = "stablehlo.subtract"(%v6, %v8) : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi32>
    %v11 = "stablehlo.constant"() {value = dense<2> : tensor<i32>} : () -> tensor<i32>
    %v12 = "stablehlo.broadcast_in_dim"(%v11) {broadcast_dimensions = array<i64>} : (tensor<i32>) -> tensor<2x4x4xi32>
    %v13 = "stablehlo.compare"(%v10, %v12) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<2x4x4xi32>, tensor<2x4x4xi32>) -> tensor<2x4x4xi1>
    %v14 = "stablehlo.and"(%v9, %v13) : (tensor<2x4x4xi1>, tensor<2x4x4xi1>) -> tensor<2x4x4xi1>
    %v15 = "stablehlo.dot_general"(%v0, %v2) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>} : (tensor<2x4x16xf32>, tensor<2x16x8xf32>) -> tensor<2x4x2x8xf32>
    %v16 = "stablehlo.dot_general"(%v0, %v3) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [2]>} : (tensor<2x4x16xf32>, tensor<2x2x16x8xf32>) -> tensor<2x4x2x2x8xf32>
    %v17 = "stablehlo.slice"(%v16) {start_indices = array<i64: 0, 0, 0, 0, 0>, limit_indices = array<i64: 2, 4, 1, 2, 8>, strides = array<i64: 1, 1, 1, 1, 1>} : (tensor<2x4x2x2x8xf32>) -> tensor<2x4x1x2x8xf32>
    %v18 = "stablehlo.reshape"(%v17) : (tensor<2x4x1x2x8xf32>) -> tensor<2x4x2x8xf32>
    %v19 = "stablehlo.slice"(%v16) {start_indices = array<i64: 0, 0, 1, 0, 0>, limit_indices = array<i64: 2, 4, 2, 2, 8>, strides = array<i64: 1, 1, 1, 1, 1>} : (tensor<2x4x2x2x8xf32>) -> tensor<2x4x1x2x8xf32>
    %v20 = "stablehlo.reshape"(%v19) : (tensor<2x4x1x2x8xf32>) -> tensor<2x4x2x8xf32>
    %v21 = "stablehlo.constant"() {value = dense<"0x0000803F000020410000C84200007A44"> : tensor<4xf32>} : () -> tensor<4xf32>
    %v22 = "stablehlo.convert"(%v1) : (tensor<2x4xi32>) -> tensor<2x4xf32>
    %v23 = "stablehlo.reshape"(%v22) : (tensor<2x4xf32>) -> tensor<2x4x1x1xf32>
    %v24 = "stablehlo.reshape"(%v21) : (tensor<4xf32>) -> tensor<1x1x1x4xf32>
    %v25 = "stablehlo.broadcast_in_dim"(%v23) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x1xf32>) -> tensor<2x4x1x4xf32>
    %v26 = "stablehlo.broadcast_in_dim"(%v24) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<1x1x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v27 = "stablehlo.divide"(%v25, %v26) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v28 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v29 = "stablehlo.broadcast_in_dim"(%v28) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x1x4xf32>
    %v30 = "stablehlo.divide"(%v27, %v29) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v31 = "stablehlo.sine"(%v30) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v32 = "stablehlo.cosine"(%v30) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v33 = "stablehlo.slice"(%v15) {start_indices = array<i64: 0, 0, 0, 0>, limit_indices = array<i64: 2, 4, 2, 4>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v34 = "stablehlo.slice"(%v15) {start_indices = array<i64: 0, 0, 0, 4>, limit_indices = array<i64: 2, 4, 2, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v35 = "stablehlo.broadcast_in_dim"(%v32) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v36 = "stablehlo.multiply"(%v33, %v35) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v37 = "stablehlo.broadcast_in_dim"(%v31) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v38 = "stablehlo.multiply"(%v34, %v37) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v39 = "stablehlo.subtract"(%v36, %v38) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v40 = "stablehlo.broadcast_in_dim"(%v32) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v41 = "stablehlo.multiply"(%v34, %v40) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v42 = "stablehlo.broadcast_in_dim"(%v31) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v43 = "stablehlo.multiply"(%v33, %v42) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v44 = "stablehlo.add"(%v41, %v43) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v45 = "stablehlo.concatenate"(%v39, %v44) {dimension = 3 : i64} : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x8xf32>
    %v46 = "stablehlo.constant"() {value = dense<3.535533905932738e-1> : tensor<f32>} : () -> tensor<f32>
    %v47 = "stablehlo.broadcast_in_dim"(%v46) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x2x8xf32>
    %v48 = "stablehlo.multiply"(%v45, %v47) : (tensor<2x4x2x8xf32>, tensor<2x4x2x8xf32>) -> tensor<2x4x2x8xf32>
    %v49 = "stablehlo.constant"() {value = dense<"0x0000803F000020410000C84200007A44"> : tensor<4xf32>} : () -> tensor<4xf32>
    %v50 = "stablehlo.convert"(%v1) : (tensor<2x4xi32>) -> tensor<2x4xf32>
    %v51 = "stablehlo.reshape"(%v50) : (tensor<2x4xf32>) -> tensor<2x4x1x1xf32>
    %v52 = "stablehlo.reshape"(%v49) : (tensor<4xf32>) -> tensor<1x1x1x4xf32>
    %v53 = "stablehlo.broadcast_in_dim"(%v51) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x1xf32>) -> tensor<2x4x1x4xf32>
    %v54 = "stablehlo.broadcast_in_dim"(%v52) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<1x1x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v55 = "stablehlo.divide"(%v53, %v54) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v56 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
    %v57 = "stablehlo.broadcast_in_dim"(%v56) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4x1x4xf32>
    %v58 = "stablehlo.divide"(%v55, %v57) : (tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v59 = "stablehlo.sine"(%v58) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v60 = "stablehlo.cosine"(%v58) : (tensor<2x4x1x4xf32>) -> tensor<2x4x1x4xf32>
    %v61 = "stablehlo.slice"(%v18) {start_indices = array<i64: 0, 0, 0, 0>, limit_indices = array<i64: 2, 4, 2, 4>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v62 = "stablehlo.slice"(%v18) {start_indices = array<i64: 0, 0, 0, 4>, limit_indices = array<i64: 2, 4, 2, 8>, strides = array<i64: 1, 1, 1, 1>} : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x4xf32>
    %v63 = "stablehlo.broadcast_in_dim"(%v60) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v64 = "stablehlo.multiply"(%v61, %v63) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v65 = "stablehlo.broadcast_in_dim"(%v59) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v66 = "stablehlo.multiply"(%v62, %v65) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v67 = "stablehlo.subtract"(%v64, %v66) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v68 = "stablehlo.broadcast_in_dim"(%v60) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v69 = "stablehlo.multiply"(%v62, %v68) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v70 = "stablehlo.broadcast_in_dim"(%v59) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x4x1x4xf32>) -> tensor<2x4x2x4xf32>
    %v71 = "stablehlo.multiply"(%v61, %v70) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v72 = "stablehlo.add"(%v69, %v71) : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x4xf32>
    %v73 = "stablehlo.concatenate"(%v67, %v72) {dimension = 3 : i64} : (tensor<2x4x2x4xf32>, tensor<2x4x2x4xf32>) -> tensor<2x4x2x8xf32>
    %v74 = "stablehlo.transpose"(%v73) {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x4x2x8xf32>) -> tensor<2x2x4x8xf32>
    %v75 = "stablehlo.transpose"(%v20) {permutation = array<i64: 0, 2, 1, 3>} : (tensor<2x4x2x8xf32>) -> tensor<2x2x4x8xf32>
    %v76 = "stablehlo.reshape"(%v48) : (tensor<2x4x2x8xf32>) -> tensor<2x4x2x1x8xf32>
    %v77 = "stablehlo.dot_general"(%v76, %v74) {dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0, 2], rhs_batching_dimensions = [0, 1], lhs_contracting_dimensions = [4], rhs_contracting_dimensions = [3]>} : (tensor<2x4x2x1x8xf32>, tensor<2x2x4x8xf32>) -> tensor<2x2x4x1x4xf32>
    %v78 = "stablehlo.constant"() {value = dense<5.0e1> : tensor<f32>} : () -> tensor<f32>
    %v79 = "stablehlo.broadcast_in_dim"(%v78) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x2x4x1x4xf32>
    %v80 = "stablehlo.divide"(%v77, %v79) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v81 = "stablehlo.tanh"(%v80) : (tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v82 = "stablehlo.constant"() {value = dense<5.0e1> : tensor<f32>} : () -> tensor<f32>
    %v83 = "stablehlo.broadcast_in_dim"(%v82) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x2x4x1x4xf32>
    %v84 = "stablehlo.multiply"(%v81, %v83) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v85 = "stablehlo.broadcast_in_dim"(%v14) {broadcast_dimensions = array<i64: 0, 2, 4>} : (tensor<2x4x4xi1>) -> tensor<2x2x4x1x4xi1>
    %v86 = "stablehlo.constant"() {value = dense<-2.3819763e38> : tensor<2x2x4x1x4xf32>} : () -> tensor<2x2x4x1x4xf32>
    %v87 = "stablehlo.select"(%v85, %v84, %v86) : (tensor<2x2x4x1x4xi1>, tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v88_max_init = "stablehlo.constant"() {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
    %v88_max = "stablehlo.reduce"(%v87, %v88_max_init) ({
      ^bb0(%v88_max_c_a: tensor<f32>, %v88_max_c_b: tensor<f32>):
        %v88_max_c_r = "stablehlo.maximum"(%v88_max_c_a, %v88_max_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v88_max_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 4>} : (tensor<2x2x4x1x4xf32>, tensor<f32>) -> tensor<2x2x4x1xf32>
    %v88_maxb = "stablehlo.broadcast_in_dim"(%v88_max) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x2x4x1xf32>) -> tensor<2x2x4x1x4xf32>
    %v88_shift = "stablehlo.subtract"(%v87, %v88_maxb) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v88_exp = "stablehlo.exponential"(%v88_shift) : (tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v88_sum_init = "stablehlo.constant"() {value = dense<0.0e0> : tensor<f32>} : () -> tensor<f32>
    %v88_sum = "stablehlo.reduce"(%v88_exp, %v88_sum_init) ({
      ^bb0(%v88_sum_c_a: tensor<f32>, %v88_sum_c_b: tensor<f32>):
        %v88_sum_c_r = "stablehlo.add"(%v88_sum_c_a, %v88_sum_c_b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
        "stablehlo.return"(%v88_sum_c_r) : (tensor<f32>) -> ()
    }) {dimensions = array<i64: 4>} : (tensor<2x2x4x1x4xf32>, tensor<f32>) -> tensor<2x2x4x1xf32>
    %v88_sumb = "stablehlo.broadcast_in_dim"(%v88_sum) {broadcast_dimensions = array<i64: 0, 1, 2, 3>} : (tensor<2x2x4x1xf32>) -> tensor<2x2x4x1x4xf32>
    %v88 = "stablehlo.divide"(%v88_exp, %v88_sumb) : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x1x4xf32>) -> tensor<2x2x4x1x4xf32>
    %v89 = "stablehlo.dot_general"(%v88, %v75) {dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0, 1], rhs_batching_dimensions = [0, 1], lhs_contracting_dimensions = [4], rhs_contracting_dimensions = [2]>} : (tensor<2x2x4x1x4xf32>, tensor<2x2x4x8xf32>) -> tensor<2x2x4x1x8xf32>
    %v90 = "stablehlo.transpose"(%v89) {permutation = array<i64: 0, 2, 1, 3, 4>} : (tensor<2x2x4x1x8xf32>) -> tensor<2x4x2x1x8xf32>
    %v91 = "stablehlo.reshape"(%v90) : (tensor<2x4x2x1x8xf32>) -> tensor<2x4x2x8xf32>
    %v92 = "stablehlo.dot_general"(%v91, %v4) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2, 3], rhs_contracting_dimensions = [0, 1]>} : (tensor<2x4x2x8xf32>, tensor<2x8x16xf32>) -> tensor<2x4x16xf32>
    return %v92 : tensor<2x4x16xf32>
  }
}
